/**
 * The study's report layer: a document model rendered to one self-contained report.html and to report.md
 * with its figure files, hand-drawn SVG charts, labelled image figures, and a headless-browser check.
 */
export * from './document.js';
export { renderHtml } from './html.js';
export { renderMarkdown, renderMarkdownTable, assetFiles, reportFiles, plotToPng, type ReportFile } from './markdown.js';
export { linePlot, scatterPlot, niceTicks, PALETTE, type Point, type Series, type LinePlotOptions, type ScatterPoint, type ScatterPlotOptions } from './plot.js';
export { imageGrid, pipelineStrip, type Frame, type GridCell, type ImageGridOptions, type PipelineStage, type PipelineStripOptions } from './figure.js';
export { checkReportInBrowser, CHROMIUM_ARGS, DEFAULT_CHROMIUM, type BrowserCheck, type BrowserCheckOptions } from './browser.js';
export { escapeXml, formatNumber } from './text.js';
