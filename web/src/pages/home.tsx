// `/`: with nothing stored, the first-run page: copy-paste set-up for every SDK, with the ports this
// server really listens on. Once data exists, an overview: counts per signal, when each last
// arrived, the newest errors, and the set-up folded away below.
import "./signals.css";
import { useState } from "preact/hooks";
import { type Addresses, type Overview, getApi } from "../api";
import { Link } from "../components/Link";
import { useFetched } from "../fetched";
import { ago, dateTime } from "../format";
import { useLive } from "../live";

export function HomePage() {
  const fetched = useFetched((signal) => getApi("/api/overview", {}, signal), [], true);
  useLive(["sessions", "errors", "logs", "traces", "metrics"], fetched.reload, 2000);
  const data = fetched.data;
  if (fetched.error) return <section class="page"><p class="error-note">{fetched.error.message}</p></section>;
  if (!data) return <section class="page"><p class="muted">Loading…</p></section>;
  const addresses = data.addresses ?? fallbackAddresses();
  if (data.empty) {
    return (
      <section class="page home first-run">
        <h1>Nothing received yet</h1>
        <p class="lead">
          hl-local is listening. Point an SDK at it and this page turns into an overview as soon as the first data arrives
          (it refreshes by itself).
        </p>
        <Setup addresses={addresses} />
      </section>
    );
  }
  return (
    <section class="page home">
      <OverviewCards data={data} />
      <div class="home-columns">
        <NewestErrors data={data} />
        <details class="setup-fold">
          <summary>Set up another app</summary>
          <Setup addresses={addresses} />
        </details>
      </div>
    </section>
  );
}

/** Without a server (never in practice): the UI's own origin for everything. */
function fallbackAddresses(): Addresses {
  const origin = location.origin;
  return { ui_url: origin, otlp_http_url: origin, otlp_grpc_url: "http://127.0.0.1:4317", backend_url: `${origin}/public` };
}

const CARDS: [keyof Overview["counts"], keyof Overview["last_received"], string, string][] = [
  ["sessions", "sessions", "Sessions", "/sessions"],
  ["errors", "errors", "Errors", "/errors"],
  ["logs", "logs", "Log lines", "/logs"],
  ["spans", "traces", "Spans", "/traces"],
  ["metric_points", "metrics", "Metric points", "/metrics"],
];

function OverviewCards({ data }: { data: Overview }) {
  return (
    <ul class="cards" aria-label="What was received">
      {CARDS.map(([count, last, label, href]) => {
        const at = data.last_received[last];
        return (
          <li key={count}>
            <Link href={href} class="card">
              <span class="card-count">{data.counts[count].toLocaleString()}</span>
              <span class="card-label">{label}</span>
              <span class="muted small" title={at ? dateTime(at / 1e6) : ""}>
                {at ? `last ${ago(at / 1e6)}` : "none yet"}
              </span>
              {count === "errors" && data.counts.error_groups > 0 && (
                <span class="muted small">in {data.counts.error_groups} groups</span>
              )}
            </Link>
          </li>
        );
      })}
    </ul>
  );
}

function NewestErrors({ data }: { data: Overview }) {
  return (
    <div class="newest-errors">
      <h2>Newest open errors</h2>
      {data.newest_errors.length === 0 ? (
        <p class="muted">No open error groups.</p>
      ) : (
        <ol>
          {data.newest_errors.map((g) => (
            <li key={g.group_id}>
              <Link href={`/errors/${encodeURIComponent(g.group_id)}`} class="newest-error">
                <span class="title">
                  <span class="etype">{g.type || "Error"}</span> {g.title}
                </span>
                <small class="muted">
                  {g.service_name || (g.source === "frontend" ? "browser" : "–")} · {g.occurrences} event
                  {g.occurrences === 1 ? "" : "s"} · last {ago(g.last_seen_ns / 1e6)}
                </small>
              </Link>
            </li>
          ))}
        </ol>
      )}
      <Link href="/errors">All errors →</Link>
    </div>
  );
}

// ---------------------------------------------------------------- set-up snippets

type Snippet = [string, string, string]; // title, note, code

export function snippets(a: Addresses): [string, Snippet[]][] {
  const ui = a.ui_url;
  return [
    [
      "Browser",
      [
        [
          "highlight.run",
          "Session replay, console, network (with bodies), errors, and web vitals. tracingOrigins links each request to its backend trace.",
          `import { H } from "highlight.run";

H.init("1", {
  backendUrl: "${a.backend_url}",
  otlpEndpoint: "${a.otlp_http_url}",
  tracingOrigins: true,
  networkRecording: { enabled: true, recordHeadersAndBody: true },
});`,
        ],
        [
          "Next.js (@highlight-run/next)",
          "Without configureHighlightProxy: false, the Next.js SDK sends to Highlight's cloud whatever backendUrl says.",
          `// next.config.js
const { withHighlightConfig } = require("@highlight-run/next/config");
module.exports = withHighlightConfig({ /* your config */ }, { configureHighlightProxy: false });

// app/layout.tsx
import { HighlightInit } from "@highlight-run/next/client";
<HighlightInit
  projectId="1"
  backendUrl="${a.backend_url}"
  otlpEndpoint="${a.otlp_http_url}"
  tracingOrigins
  networkRecording={{ enabled: true, recordHeadersAndBody: true }}
/>

// instrumentation.ts (the server side)
export async function register() {
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  const { registerHighlight } = await import("@highlight-run/next/server");
  await registerHighlight({ projectID: "1", otlpEndpoint: "${a.otlp_http_url}", serviceName: "my-next-app" });
}`,
        ],
      ],
    ],
    [
      "Backend SDKs",
      [
        [
          "Python (highlight-io 0.10+, gRPC)",
          "Traces, logs (the logging module), errors and metrics. This SDK speaks gRPC only.",
          `import highlight_io

H = highlight_io.H("1", otlp_endpoint="${a.otlp_grpc_url}", service_name="my-app")`,
        ],
        [
          "Node (@highlight-run/node)",
          "Errors with H.consumeError, logs, traces.",
          `import { H } from "@highlight-run/node";

H.init({ projectID: "1", otlpEndpoint: "${a.otlp_http_url}", serviceName: "my-api" });`,
        ],
      ],
    ],
    [
      "Plain OpenTelemetry",
      [
        ["OTLP over HTTP", "Any language's OTLP exporter; protobuf or JSON.", `OTEL_EXPORTER_OTLP_ENDPOINT=${a.otlp_http_url}`],
        [
          "OTLP over gRPC",
          "",
          `OTEL_EXPORTER_OTLP_ENDPOINT=${a.otlp_grpc_url}
OTEL_EXPORTER_OTLP_PROTOCOL=grpc`,
        ],
        ["Check it is up", `This UI is at ${ui}.`, `curl ${ui}/health`],
      ],
    ],
  ];
}

function Setup({ addresses }: { addresses: Addresses }) {
  return (
    <div class="setup">
      {snippets(addresses).map(([group, items]) => (
        <section key={group}>
          <h2>{group}</h2>
          {items.map(([title, note, code]) => (
            <SnippetBox key={title} title={title} note={note} code={code} />
          ))}
        </section>
      ))}
    </div>
  );
}

function SnippetBox({ title, note, code }: { title: string; note: string; code: string }) {
  const [copied, setCopied] = useState(false);
  const copy = () =>
    navigator.clipboard?.writeText(code).then(
      () => {
        setCopied(true);
        setTimeout(() => setCopied(false), 1500);
      },
      () => setCopied(false),
    );
  return (
    <div class="snippet">
      <div class="snippet-head">
        <h3>{title}</h3>
        <button type="button" onClick={copy} aria-label={`Copy the ${title} set-up`}>
          {copied ? "Copied" : "Copy"}
        </button>
      </div>
      {note && <p class="muted small">{note}</p>}
      <pre class="code">{code}</pre>
    </div>
  );
}
