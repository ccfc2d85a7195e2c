/** robustify's public API: a small surface over the engine, models, attacks and defences. */
export { initEngine, describeEngine, type BackendName, type EngineInfo } from './engine/backend.js';
