// pino logging through Highlight's pino transport (@highlight-run/pino), sending to hl-local
// (tests/test_sdk_family.py). The transport runs in pino's worker thread and starts
// @highlight-run/node there.
//
//   node pino.cjs OTLP_HTTP_BASE
'use strict'
const pino = require('pino')

const [otlpEndpoint] = process.argv.slice(2)
const transport = pino.transport({
	target: '@highlight-run/pino',
	options: { projectID: '1', otlpEndpoint, serviceName: 'pino-test', environment: 'test' },
})
const logger = pino({ level: 'debug' }, transport)
logger.info({ orderId: '42' }, 'pino order placed')
logger.warn('pino stock low')
logger.error({ err: 'card declined' }, 'pino payment failed')
logger.debug('pino debug line')
// ending the transport closes it, and its close() flushes the SDK
transport.on('close', () => process.stdout.write('closed\n'))
transport.end()
