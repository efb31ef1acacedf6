"use client";
import { useState, type ReactNode } from "react";
import { Button } from "./button";
import { Alert } from "./state";

export function CopyButton({ text, label = "Copy" }: { text: string; label?: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <Button
      variant="secondary"
      size="sm"
      className="copy"
      onClick={() => {
        // React ignores a handler's promise; the copy reports through state.
        void (async () => {
          try {
            await navigator.clipboard.writeText(text);
          } catch {
            // Clipboard permission can be denied (insecure origin); selecting the text is the fallback.
            return;
          }
          setCopied(true);
          setTimeout(() => setCopied(false), 2000);
        })();
      }}
    >
      {copied ? "Copied" : label}
      <span className="sr-only" aria-live="polite">
        {copied ? "copied to clipboard" : ""}
      </span>
    </Button>
  );
}

export function CodeBlock({ code, label, testId }: { code: string; label: string; testId?: string }) {
  return (
    <div className="codeblock">
      <pre aria-label={label} tabIndex={0} data-testid={testId}>
        <code>{code}</code>
      </pre>
      <CopyButton text={code} label={`Copy`} />
    </div>
  );
}

/** A credential the server returns once (service token, webhook secret): a warning, the value and a copy button. */
export function ShownOnceSecret({ secret, testId, copyLabel, children }: { secret: string; testId: string; copyLabel: string; children: ReactNode }) {
  return (
    <div className="stack" style={{ marginTop: "0.75rem" }}>
      <Alert tone="warning">{children} It will not be shown again.</Alert>
      <div className="row">
        <code className="secret" data-testid={testId} style={{ flex: 1 }}>
          {secret}
        </code>
        <CopyButton text={secret} label={copyLabel} />
      </div>
    </div>
  );
}
