// "Export: HTML · DuckDB …": downloads of a session or a trace with everything linked to it, made by
// GET /api/export (hl_local/export/api.py). Plain links: the browser saves what the server answers.
const LABELS = { html: "HTML", duckdb: "DuckDB", "otlp-json": "OTLP/JSON" } as const;
type Format = keyof typeof LABELS;

export function ExportLinks({ session, trace, formats }: { session?: string; trace?: string; formats: Format[] }) {
  const what = session ? `session=${encodeURIComponent(session)}` : `trace=${encodeURIComponent(trace ?? "")}`;
  const titles: Record<Format, string> = {
    html: "One page that replays it anywhere, offline",
    duckdb: "A database: open it with hl-local --db FILE",
    "otlp-json": "OTLP/JSON lines, for any OpenTelemetry backend",
  };
  return (
    <span class="export-links">
      Export{" "}
      {formats.map((format, i) => (
        <>
          {i > 0 && " · "}
          <a href={`/api/export?format=${format}&${what}`} download title={titles[format]}>
            {LABELS[format]}
          </a>
        </>
      ))}
    </span>
  );
}
