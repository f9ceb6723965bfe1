// The app shell: navigation, and the page for the current path. Every view's state is in its
// URL (path, `query`, time range), so a link opens the same view.
import "rrweb-player/dist/style.css";
import "./styles.css";
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ErrorGroupPage, ErrorsPage } from "./pages/errors";
import { HomePage } from "./pages/home";
import { LogsPage } from "./pages/logs";
import { MetricsPage } from "./pages/metrics";
import { SessionPage } from "./pages/replay";
import { SessionsPage } from "./pages/sessions";
import { TracePage, TracesPage } from "./pages/traces";
import { Link } from "./components/Link";
import { ShortcutHelp, isTyping } from "./components/Shortcuts";
import { Storage } from "./components/Storage";
import { carried, navigate, useLocation } from "./router";

const SECTIONS: [string, string, string][] = [
  ["/sessions", "Sessions", "s"],
  ["/errors", "Errors", "e"],
  ["/logs", "Logs", "l"],
  ["/traces", "Traces", "t"],
  ["/metrics", "Metrics", "m"],
];

function Page({ path, params }: { path: string; params: URLSearchParams }) {
  const [, section, id] = path.split("/").map(decodeURIComponent);
  if (section === "sessions" && id) return <SessionPage sessionId={id} params={params} />;
  if (section === "errors" && id) return <ErrorGroupPage groupId={id} params={params} />;
  if (section === "errors") return <ErrorsPage params={params} />;
  if (section === "logs") return <LogsPage params={params} />;
  if (section === "traces" && id) return <TracePage traceId={id} params={params} />;
  if (section === "traces") return <TracesPage params={params} />;
  if (section === "metrics") return <MetricsPage params={params} />;
  if (section === "sessions") return <SessionsPage params={params} />;
  return <HomePage />;
}

function App() {
  const { path, params } = useLocation();
  const [help, setHelp] = useState(false);
  useEffect(() => {
    // g then h/s/e/l/t/m: go to a section; ?: the shortcuts. From anywhere but a text field.
    let pending = false;
    const onKey = (e: KeyboardEvent) => {
      if (isTyping(e.target) || e.metaKey || e.ctrlKey || e.altKey) return;
      if (pending) {
        pending = false;
        if (e.key === "h") navigate("/");
        const section = SECTIONS.find(([, , key]) => key === e.key);
        if (section) navigate(carried(section[0]));
      } else if (e.key === "g") {
        pending = true;
        setTimeout(() => (pending = false), 1000);
      } else if (e.key === "?") {
        e.preventDefault();
        setHelp(true);
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);
  const current = "/" + (path.split("/")[1] || "");
  return (
    <div class="app">
      <header class="topbar">
        <Link href="/" class="brand" title="Overview (g h)">
          hl-local
        </Link>
        <nav aria-label="Sections">
          {SECTIONS.map(([href, label, key]) => (
            <Link
              key={href}
              href={carried(href)}
              class={current === href ? "active" : ""}
              title={`${label} (g ${key})`}
            >
              {label}
            </Link>
          ))}
        </nav>
        <Storage />
        <button type="button" class="help-button" title="Keyboard shortcuts (?)" aria-label="Keyboard shortcuts" onClick={() => setHelp(true)}>
          ?
        </button>
      </header>
      <main>
        <Page path={path} params={params} />
      </main>
      {help && <ShortcutHelp onClose={() => setHelp(false)} />}
    </div>
  );
}

render(<App />, document.getElementById("app")!);
