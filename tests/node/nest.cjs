// A NestJS app with Highlight's Nest SDK (@highlight-run/nest: HighlightInterceptor, HighlightLogger),
// sending to hl-local (tests/test_sdk_family.py). Plain JavaScript, so the decorators are applied
// by hand. Two requests come in as a recorded browser makes them (X-Highlight-Request, traceparent):
// one logs, one throws.
//
//   node nest.cjs OTLP_HTTP_BASE SESSION TRACEPARENT
'use strict'
require('reflect-metadata')
const { Controller, Get, Module, Logger } = require('@nestjs/common')
const { NestFactory } = require('@nestjs/core')
const { H, HighlightInterceptor, HighlightLogger } = require('@highlight-run/nest')

const [otlpEndpoint, session, traceparent] = process.argv.slice(2)
const options = { projectID: '1', otlpEndpoint, serviceName: 'nest-test', environment: 'test' }

class Api {
	ok() {
		new Logger('Api').log('nest handled order 42')
		return { ok: true }
	}
	fail() {
		throw new RangeError('nest order failed') // at:nest
	}
}
for (const name of ['ok', 'fail']) {
	Get(name)(Api.prototype, name, Object.getOwnPropertyDescriptor(Api.prototype, name))
}
Controller('api')(Api)
class AppModule {}
Module({ controllers: [Api] })(AppModule)

async function main() {
	const app = await NestFactory.create(AppModule, { logger: new HighlightLogger(options) })
	app.useGlobalInterceptors(new HighlightInterceptor(options))
	await app.listen(0, '127.0.0.1')
	const base = await app.getUrl()
	const headers = { 'x-highlight-request': `${session}/nest-request`, traceparent }
	const ok = await fetch(`${base}/api/ok`, { headers })
	const fail = await fetch(`${base}/api/fail`, { headers })
	process.stdout.write(`status ${ok.status} ${fail.status}\n`)
	await H.flush()
	await app.close()
}

main().catch((err) => {
	process.stderr.write(`${err.stack}\n`)
	process.exit(1)
})
