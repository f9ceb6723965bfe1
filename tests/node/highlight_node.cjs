// The real @highlight-run/node SDK sending to hl-local (tests/test_backend_js.py).
//
//   node highlight_node.cjs OTLP_HTTP_BASE SESSION REQUEST
//
// Every error is made on a line marked `// at:NAME`, which the test looks up to check frame 0.
'use strict'
const { H } = require('@highlight-run/node')
const api = require('@opentelemetry/api')

const [endpoint, session, request] = process.argv.slice(2)

function parseCart(text) {
	throw new TypeError(`cart is not JSON: ${text}`) // at:caught
}

function chargeCard() {
	throw new RangeError('card declined') // at:thrown
}

async function main() {
	H.init({
		projectID: '1',
		otlpEndpoint: endpoint,
		serviceName: 'hl-node-test',
		serviceVersion: '3.12.22-test',
		environment: 'test',
	})
	console.log('node outside log')
	console.warn('node outside warn')
	console.error('node outside error')

	// One headers object per request, as a server has: runWithHeaders writes a traceparent into the
	// object it is given, so reusing one would make the next request a child of this one.
	await H.runWithHeaders('GET /api/cart', { 'x-highlight-request': `${session}/${request}` }, async () => {
		const tracer = api.trace.getTracer('hl-local-test')
		await tracer.startActiveSpan('db.query', async (child) => {
			console.info('node child info')
			child.end()
		})
		console.log('node inside log')
		console.warn('node inside warn')
		console.error('node inside error')
		try {
			parseCart('{oops')
		} catch (err) {
			H.consumeError(err)
		}
	})

	try {
		await H.runWithHeaders('POST /api/pay', { 'x-highlight-request': `${session}/${request}-pay` }, async () => {
			chargeCard()
		})
	} catch (err) {
		// the SDK recorded it on its span and threw it again
		console.log(`node caught ${err.name}`)
	}

	H.consumeError(new Error('consumed outside any span')) // at:outside

	await H.flush()
	await H.stop()
}

main().then(
	() => process.exit(0),
	(err) => {
		process.stderr.write(`driver failed: ${err && err.stack}\n`)
		process.exit(1)
	},
)
