// test/otlp/rag.js -- a small "RAG pipeline" instrumented with the official
// OpenTelemetry JavaScript SDK, exporting to ppprof collect (test/t/017).
//
//   node rag.js URL json|proto SERVICE
//
// One trace: rag.query (root) > retrieve (embed, then two concurrent
// vector searches) > rerank (fails with an exception) > generate (gen_ai
// attributes).  The children are flushed before the root ends, so the trace
// arrives in several exports, and one export is sent twice, as an exporter
// retrying a batch does.  Prints each span as the SDK recorded it, one JSON
// object a line, and "exports N" at the end.
'use strict';

const api = require('@opentelemetry/api');
const { BasicTracerProvider, BatchSpanProcessor, SimpleSpanProcessor, InMemorySpanExporter } =
  require('@opentelemetry/sdk-trace-base');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { OTLPTraceExporter: JsonExporter } = require('@opentelemetry/exporter-trace-otlp-http');
const { OTLPTraceExporter: ProtoExporter } = require('@opentelemetry/exporter-trace-otlp-proto');

const [url, protocol, service] = process.argv.slice(2);
const Exporter = protocol === 'proto' ? ProtoExporter : JsonExporter;
// generous timeouts: the machine may be busy; nothing here measures time
const otlp = new Exporter({ url, timeoutMillis: 120000 });

// count the exports, and send the second one twice (a retry of that batch)
let sent = 0;
const failures = [];
const exporter = {
  export(spans, done) {
    const n = ++sent;
    otlp.export(spans, (result) => {
      if (result.code !== 0) failures.push(String(result.error));
      if (n !== 2) return done(result);
      sent++;
      otlp.export(spans, (again) => {
        if (again.code !== 0) failures.push(String(again.error));
        done(again);
      });
    });
  },
  shutdown() { return otlp.shutdown(); },
  forceFlush() { return otlp.forceFlush(); },
};

const recorded = new InMemorySpanExporter();
const provider = new BasicTracerProvider({
  resource: resourceFromAttributes({ 'service.name': service, 'deployment.environment': 'test' }),
  // only forceFlush exports (never the timer), so the batches are known
  spanProcessors: [
    new BatchSpanProcessor(exporter, { scheduledDelayMillis: 3600000, exportTimeoutMillis: 300000 }),
    new SimpleSpanProcessor(recorded),
  ],
});
const tracer = provider.getTracer('rag-pipeline', '1.0.0');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function child(name, parent, attributes, kind) {
  return tracer.startSpan(name, { attributes, kind: kind ?? api.SpanKind.INTERNAL },
    api.trace.setSpan(api.context.active(), parent));
}

async function search(name, parent, shard) {
  const s = child(name, parent, { 'db.system': 'postgresql', 'db.operation': 'SELECT', shard },
    api.SpanKind.CLIENT);
  await sleep(15 + 10 * shard);
  s.end();
}

async function main() {
  const root = tracer.startSpan('rag.query', {
    kind: api.SpanKind.SERVER, attributes: { 'rag.question': 'what is ppprof?', 'rag.top_k': 5 },
  });

  const retrieve = child('retrieve', root, { 'rag.sources': ['docs', 'faq'] });
  const embed = child('embed', retrieve, {
    'gen_ai.operation.name': 'embeddings', 'gen_ai.request.model': 'text-embedding-3-small',
    'gen_ai.usage.input_tokens': 12,
  });
  await sleep(10);
  embed.end();
  await Promise.all([search('vector_search', retrieve, 1), search('vector_search', retrieve, 2)]);
  retrieve.end();
  await provider.forceFlush();		// first export: embed, two searches, retrieve

  const rerank = child('rerank', root, { 'rerank.model': 'cross-encoder', 'rerank.score': 0.875 });
  await sleep(5);
  rerank.recordException(new Error('reranker timed out'));
  rerank.setStatus({ code: api.SpanStatusCode.ERROR, message: 'reranker timed out' });
  rerank.end();
  await provider.forceFlush();		// second export (sent twice): rerank

  const generate = child('generate', root, {
    'gen_ai.operation.name': 'chat', 'gen_ai.system': 'openai', 'gen_ai.request.model': 'gpt-4o-mini',
    'gen_ai.request.temperature': 0.2, 'gen_ai.usage.input_tokens': 512,
    'gen_ai.usage.output_tokens': 128, 'gen_ai.response.finish_reasons': ['stop'], streamed: true,
  }, api.SpanKind.CLIENT);
  await sleep(20);
  generate.end();
  root.end();
  await provider.forceFlush();		// third export: generate, rag.query

  const ns = (t) => (BigInt(t[0]) * 1000000000n + BigInt(t[1])).toString();
  for (const s of recorded.getFinishedSpans()) {
    console.log(JSON.stringify({
      name: s.name,
      traceId: s.spanContext().traceId,
      spanId: s.spanContext().spanId,
      parentSpanId: s.parentSpanContext ? s.parentSpanContext.spanId : '',
      start: ns(s.startTime),
      end: ns(s.endTime),
      status: s.status.code,
      message: s.status.message ?? null,
      attributes: s.attributes,
    }));
  }
  console.log(`exports ${sent}`);
  await provider.shutdown();
  if (failures.length) {
    console.error(`export failures: ${failures.join('; ')}`);
    process.exit(1);
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
