/** Prometheus metrics (prom-client), one registry per server: request counts and latencies per route, queue, gallery. */
import client from 'prom-client';

export interface ServerMetrics {
  registry: client.Registry;
  requests: client.Counter<'method' | 'route' | 'status'>;
  latency: client.Histogram<'method' | 'route'>;
  queueDepth: client.Gauge;
  inferenceActive: client.Gauge;
}

export function createMetrics(gallery: () => { faces: number; identities: number }): ServerMetrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'robustify_' });
  const requests = new client.Counter({ name: 'robustify_http_requests_total', help: 'HTTP requests by route and status', labelNames: ['method', 'route', 'status'] as const, registers: [registry] });
  const latency = new client.Histogram({
    name: 'robustify_http_request_duration_seconds',
    help: 'HTTP request latency by route',
    labelNames: ['method', 'route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  const queueDepth = new client.Gauge({ name: 'robustify_inference_queue_depth', help: 'requests waiting for an inference worker', registers: [registry] });
  const inferenceActive = new client.Gauge({ name: 'robustify_inference_active', help: 'requests running on inference workers', registers: [registry] });
  new client.Gauge({ name: 'robustify_gallery_faces', help: 'faces in the gallery matrix', registers: [registry], collect() { this.set(gallery().faces); } });
  new client.Gauge({ name: 'robustify_gallery_identities', help: 'identities with at least one face', registers: [registry], collect() { this.set(gallery().identities); } });
  return { registry, requests, latency, queueDepth, inferenceActive };
}
