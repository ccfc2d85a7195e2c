/**
 * `robustify/queue`: attack work on BullMQ workers — the coordinator a study (or the attack and robustness
 * commands) hands its batches and chunks to, and the worker that computes them. A subpath of its own so that `import 'robustify'` does not load
 * bullmq and ioredis.
 *
 * @module
 */
export { QueueCoordinator, type CoordinatorOptions, type QueueStats } from './coordinator.js';
export { startWorker, type WorkerOptions, type RunningWorker } from './worker.js';
