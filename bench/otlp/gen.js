// bench/otlp/gen.js -- the request bodies of bench/otlp.sh, made once by the
// official OpenTelemetry JavaScript SDK pinned in test/otlp/.
//
//   node gen.js OUTDIR REQUESTS TRACES_PER_REQUEST
//
// Records REQUESTS x TRACES_PER_REQUEST traces of a RAG pipeline (11 spans
// each, gen_ai attributes, one failed span in five traces) with the SDK's
// tracer, with explicit start and end times (nothing sleeps), then encodes
// each request's spans with the serializers the SDK's OTLP/HTTP exporters
// use (@opentelemetry/otlp-transformer, a dependency of both): the bodies
// are the bytes those exporters send.  Writes OUTDIR/json/N and
// OUTDIR/proto/N (N = 1..REQUESTS) and OUTDIR/traces.tsv ("N<TAB>trace id"
// a line), then prints the number of spans.
'use strict';

const fs = require('fs');
const path = require('path');
const api = require('@opentelemetry/api');
const { BasicTracerProvider, SimpleSpanProcessor, InMemorySpanExporter } =
  require('@opentelemetry/sdk-trace-base');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { JsonTraceSerializer, ProtobufTraceSerializer } = require('@opentelemetry/otlp-transformer');

const [outdir, requestsArg, perArg] = process.argv.slice(2);
const requests = Number(requestsArg);
const per = Number(perArg);
if (!outdir || !(requests > 0) || !(per > 0)) {
  console.error('usage: node gen.js OUTDIR REQUESTS TRACES_PER_REQUEST');
  process.exit(2);
}

const recorded = new InMemorySpanExporter();
const provider = new BasicTracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'rag-bench', 'deployment.environment': 'bench' }),
  spanProcessors: [new SimpleSpanProcessor(recorded)],
  spanLimits: { attributeCountLimit: 128 },
});
const tracer = provider.getTracer('rag-pipeline', '1.0.0');

// a small deterministic generator, so that every run sends the same shapes
let seed = 42;
const rand = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
const ms = (lo, hi) => lo + (hi - lo) * rand();

// [seconds, nanoseconds] from milliseconds since the epoch
const hr = (t) => [Math.floor(t / 1000), Math.round((t % 1000) * 1e6)];

function span(name, parent, start, duration, attributes, kind) {
  const ctx = parent ? api.trace.setSpan(api.context.active(), parent) : api.ROOT_CONTEXT;
  const s = tracer.startSpan(name, { attributes, kind: kind ?? api.SpanKind.INTERNAL, startTime: hr(start) }, ctx);
  s.endAt = start + duration;
  return s;
}
const end = (s) => s.end(hr(s.endAt));

function trace(i, t0) {
  const spans = [];
  const root = span('rag.query', null, t0, 0, {
    'rag.question': `question ${i % 97}`, 'rag.top_k': 5, 'user.tier': i % 3 ? 'free' : 'pro',
  }, api.SpanKind.SERVER);
  let t = t0 + ms(0.1, 0.5);
  const guardIn = span('guardrail.input', root, t, ms(1, 4), { 'guardrail.policy': 'pii' });
  t = guardIn.endAt + ms(0.05, 0.2);
  const rewrite = span('query.rewrite', root, t, ms(80, 250), {
    'gen_ai.operation.name': 'chat', 'gen_ai.system': 'openai', 'gen_ai.request.model': 'gpt-4o-mini',
    'gen_ai.usage.input_tokens': 40 + (i % 50), 'gen_ai.usage.output_tokens': 20 + (i % 20),
  }, api.SpanKind.CLIENT);
  t = rewrite.endAt + ms(0.05, 0.2);
  const retrieve = span('retrieve', root, t, 0, { 'rag.sources': ['docs', 'faq'] });
  const embed = span('embed', retrieve, t + 0.1, ms(15, 40), {
    'gen_ai.operation.name': 'embeddings', 'gen_ai.request.model': 'text-embedding-3-small',
    'gen_ai.usage.input_tokens': 12 + (i % 30),
  }, api.SpanKind.CLIENT);
  const s0 = embed.endAt + 0.1;
  const searches = [1, 2].map((shard) => span('vector_search', retrieve, s0, ms(10, 60), {
    'db.system': 'postgresql', 'db.operation': 'SELECT', 'db.collection.name': `chunks_${shard}`, shard,
  }, api.SpanKind.CLIENT));
  const keyword = span('keyword_search', retrieve, s0 + 0.05, ms(5, 30), {
    'db.system': 'postgresql', 'db.operation': 'SELECT',
  }, api.SpanKind.CLIENT);
  retrieve.endAt = Math.max(keyword.endAt, ...searches.map((s) => s.endAt)) + 0.1;
  t = retrieve.endAt + ms(0.05, 0.2);
  const rerank = span('rerank', root, t, ms(20, 90), {
    'http.request.method': 'POST', 'server.address': 'reranker.internal', 'url.full': 'http://reranker.internal/v1/rerank',
    'rerank.model': 'cross-encoder', 'rerank.candidates': 20,
  }, api.SpanKind.CLIENT);
  const failed = i % 5 === 0;
  t = rerank.endAt + ms(0.05, 0.2);
  const generate = span('generate', root, t, ms(300, 1500), {
    'gen_ai.operation.name': 'chat', 'gen_ai.system': 'openai', 'gen_ai.request.model': 'gpt-4o-mini',
    'gen_ai.request.temperature': 0.2, 'gen_ai.usage.input_tokens': 400 + (i % 400),
    'gen_ai.usage.output_tokens': 100 + (i % 200), 'gen_ai.response.finish_reasons': ['stop'], streamed: true,
  }, api.SpanKind.CLIENT);
  t = generate.endAt + ms(0.05, 0.2);
  const guardOut = span('guardrail.output', root, t, ms(1, 5), { 'guardrail.policy': 'toxicity' });
  root.endAt = guardOut.endAt + ms(0.1, 0.5);
  if (failed) {
    rerank.recordException(new Error('reranker timed out'), hr(rerank.endAt));
    rerank.setStatus({ code: api.SpanStatusCode.ERROR, message: 'reranker timed out' });
  }
  // children end before their parents, as in a running application
  for (const s of [guardIn, rewrite, embed, ...searches, keyword, retrieve, rerank, generate, guardOut, root]) {
    end(s);
    spans.push(s);
  }
  return root.spanContext().traceId;
}

fs.mkdirSync(path.join(outdir, 'json'), { recursive: true });
fs.mkdirSync(path.join(outdir, 'proto'), { recursive: true });
const tsv = [];
let total = 0;
const base = Date.now() - 3600 * 1000;
for (let r = 1; r <= requests; r++) {
  recorded.reset();
  for (let k = 0; k < per; k++) {
    const i = (r - 1) * per + k;
    tsv.push(`${r}\t${trace(i, base + i * 50)}`);
  }
  const spans = recorded.getFinishedSpans();
  total += spans.length;
  fs.writeFileSync(path.join(outdir, 'json', String(r)), JsonTraceSerializer.serializeRequest(spans));
  fs.writeFileSync(path.join(outdir, 'proto', String(r)), ProtobufTraceSerializer.serializeRequest(spans));
}
fs.writeFileSync(path.join(outdir, 'traces.tsv'), tsv.join('\n') + '\n');
console.log(total);
