import type { ComponentChildren } from "preact";
import { isPlainClick, navigate } from "../router";

/** An <a> that navigates inside the app on a plain click, and behaves as a link otherwise. */
export function Link({ href, children, class: className, title }: {
  href: string;
  children: ComponentChildren;
  class?: string;
  title?: string;
}) {
  return (
    <a
      href={href}
      class={className}
      title={title}
      onClick={(e) => {
        if (!isPlainClick(e)) return;
        e.preventDefault();
        navigate(href);
      }}
    >
      {children}
    </a>
  );
}
