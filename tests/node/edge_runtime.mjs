// `node --conditions=edge --import ./edge_runtime.mjs …`: load packages as Next.js bundles them for
// its edge runtime. The edge builds import 'next/headers' without an extension, which a bundler
// resolves and Node's ESM loader does not; this hook adds it, and sets NEXT_RUNTIME as Next does.
import { register } from 'node:module'

process.env.NEXT_RUNTIME = 'edge'
register(
	'data:text/javascript,' +
		encodeURIComponent(
			"export async function resolve(s, c, next) { return next(s === 'next/headers' ? 'next/headers.js' : s, c) }",
		),
)
