// LaunchDarkly's Node observability plugin (@launchdarkly/observability-node, Highlight's successor)
// on the LaunchDarkly Node server SDK, sending to hl-local (tests/test_sdk_family.py).
//
//   node ld_node.cjs OTLP_HTTP_BASE BACKEND_URL SESSION TRACEPARENT
//
// The client is offline (no LaunchDarkly servers); flags come from a test data source, so their
// evaluations are real. The request carries what a recorded browser sends: X-Highlight-Request and
// the traceparent of its fetch span.
'use strict'
const ld = require('@launchdarkly/node-server-sdk')
const { integrations } = ld
const { Observability, LDObserve } = require('@launchdarkly/observability-node')

const [otlpEndpoint, backendUrl, session, traceparent] = process.argv.slice(2)

async function main() {
	const td = integrations.TestData ? new integrations.TestData() : null
	if (td) td.update(td.flag('new-checkout').booleanFlag().variationForAll(true))
	const client = ld.init('sdk-00000000-1111-2222-3333-444444444444', {
		offline: !td,
		updateProcessor: td ? td.getFactory() : undefined,
		sendEvents: false,
		diagnosticOptOut: true,
		plugins: [new Observability({ otlpEndpoint, backendUrl, serviceName: 'ld-node-test', environment: 'test' })],
	})
	await client.waitForInitialization({ timeout: 10 })
	const headers = { 'x-highlight-request': `${session}/ld-node-request`, traceparent }
	await LDObserve.runWithHeaders('POST /api/checkout', headers, async () => {
		const on = await client.variation('new-checkout', { kind: 'user', key: 'user-key-7' }, false)
		console.log(`ld node checkout flag ${on}`)
		console.warn('ld node warn', { orderId: '42' })
		try {
			throw new Error('ld node payment failed') // at:ld-node
		} catch (err) {
			LDObserve.recordError(err, session, 'ld-node-request', { orderId: '42' })
		}
	})
	await LDObserve.flush()
	await client.flush().catch(() => {})
	client.close()
	await LDObserve.stop()
}

main().catch((err) => {
	console.error(err)
	process.exit(1)
})
