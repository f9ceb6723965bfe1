// Highlight's Cloudflare Workers SDK (@highlight-run/cloudflare) and the Next.js edge wrapper
// (@highlight-run/next's EdgeHighlight, which runs on it), sending to hl-local
// (tests/test_sdk_family.py). Both run OpenTelemetry's web SDK and export OTLP/JSON over fetch, so
// Node's fetch stands in for the Workers runtime: the worker's fetch handler is called with a
// Request as Cloudflare would call it.
//
//   node cloudflare.cjs OTLP_HTTP_BASE SESSION TRACEPARENT worker
//   node --conditions=edge --import ./edge_runtime.mjs cloudflare.cjs OTLP_HTTP_BASE SESSION TRACEPARENT next-edge
'use strict'
const [otlpEndpoint, session, traceparent, flavour] = process.argv.slice(2)

function request(path) {
	return new Request(`https://worker.example${path}`, {
		method: 'POST',
		headers: { 'x-highlight-request': `${session}/${flavour}-request`, traceparent, 'content-type': 'application/json' },
	})
}

async function worker() {
	const { H } = require('@highlight-run/cloudflare')
	const env = { HIGHLIGHT_PROJECT_ID: '1', HIGHLIGHT_OTLP_ENDPOINT: otlpEndpoint }
	const handler = {
		async fetch(req, env, ctx) {
			H.init(env, 'cf-worker-test')
			return H.runWithHeaders('POST /api/order', req.headers, async () => {
				console.log('cf worker log', { orderId: '42' })
				console.warn('cf worker warn')
				try {
					throw new TypeError('cf worker failed') // at:cf-worker
				} catch (err) {
					H.consumeError(err)
				}
				return new Response('ok')
			})
		},
	}
	const pending = []
	const ctx = { waitUntil: (p) => pending.push(p), passThroughOnException() {} }
	const response = await handler.fetch(request('/api/order'), env, ctx)
	await Promise.all(pending)
	await H.flush()
	return response.status
}

async function nextEdge() {
	// the package's "edge" export (node --conditions=edge --import ./edge_runtime.mjs)
	const { EdgeHighlight } = await import('@highlight-run/next/server')
	const withHighlight = EdgeHighlight({ projectID: '1', otlpEndpoint, serviceName: 'next-edge-test' })
	const route = withHighlight(async (req) => {
		console.log('next edge log')
		console.error('next edge error')
		return new Response('ok')
	})
	const response = await route(request('/api/edge'))
	return response.status
}

;(flavour === 'worker' ? worker() : nextEdge())
	.then((status) => {
		process.stdout.write(`status ${status}\n`)
	})
	.catch((err) => {
		process.stderr.write(`${err.stack}\n`)
		process.exit(1)
	})
