// The stock OpenTelemetry JS SDK (no Highlight code) sending OTLP/HTTP JSON to hl-local
// (tests/test_backend_js.py).
//
//   node otel_js.cjs OTLP_HTTP_BASE
//
// Every error is made on a line marked `// at:NAME`, which the test looks up to check frame 0.
// No context manager is registered: parents are passed as explicit contexts.
'use strict'
const api = require('@opentelemetry/api')
const { SeverityNumber } = require('@opentelemetry/api-logs')
const { BasicTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base')
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http')
const { LoggerProvider, BatchLogRecordProcessor } = require('@opentelemetry/sdk-logs')
const { OTLPLogExporter } = require('@opentelemetry/exporter-logs-otlp-http')
const { resourceFromAttributes } = require('@opentelemetry/resources')

const base = process.argv[2].replace(/\/$/, '')
const resource = resourceFromAttributes({
	'service.name': 'otel-js-test',
	'service.version': '2.12.1-test',
	'deployment.environment.name': 'test',
})
const tracerProvider = new BasicTracerProvider({
	resource,
	spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${base}/v1/traces` }))],
})
const loggerProvider = new LoggerProvider({
	resource,
	processors: [new BatchLogRecordProcessor({ exporter: new OTLPLogExporter({ url: `${base}/v1/logs` }) })],
})
const tracer = tracerProvider.getTracer('hl-local-test.otel-js', '0.1.0')
const logger = loggerProvider.getLogger('hl-local-test.otel-js', '0.1.0')

function loadOrder(id) {
	throw new TypeError(`order ${id} has no items`) // at:recorded
}

function parsePayload(text) {
	throw new SyntaxError(`payload is not JSON: ${text}`) // at:logged
}

async function main() {
	const root = tracer.startSpan('GET /api/orders', { kind: api.SpanKind.SERVER })
	const inRoot = api.trace.setSpan(api.context.active(), root)
	const emit = (severityNumber, severityText, body, attributes) =>
		logger.emit({ severityNumber, severityText, body, attributes, context: inRoot })

	emit(SeverityNumber.DEBUG, 'DEBUG', 'otel-js debug')
	emit(SeverityNumber.INFO, 'INFO', 'otel-js info')
	emit(SeverityNumber.WARN, 'WARN', 'otel-js warn')
	emit(SeverityNumber.ERROR, 'ERROR', 'otel-js error')
	emit(SeverityNumber.FATAL, 'FATAL', 'otel-js fatal')
	emit(SeverityNumber.WARN2, undefined, 'otel-js warn by number only')

	const child = tracer.startSpan('db.query', { kind: api.SpanKind.CLIENT }, inRoot)
	try {
		loadOrder(42)
	} catch (err) {
		child.recordException(err)
	}
	child.end()

	const failing = tracer.startSpan('payment.charge', {}, inRoot)
	failing.setStatus({ code: api.SpanStatusCode.ERROR, message: 'gateway timeout' })
	failing.end()

	try {
		parsePayload('{oops')
	} catch (err) {
		emit(SeverityNumber.ERROR, 'ERROR', 'otel-js failed to parse payload', {
			'exception.type': err.name,
			'exception.message': err.message,
			'exception.stacktrace': err.stack,
		})
	}
	root.end()

	await tracerProvider.forceFlush()
	await loggerProvider.forceFlush()
	await tracerProvider.shutdown()
	await loggerProvider.shutdown()
}

main().then(
	() => process.exit(0),
	(err) => {
		process.stderr.write(`driver failed: ${err && err.stack}\n`)
		process.exit(1)
	},
)
