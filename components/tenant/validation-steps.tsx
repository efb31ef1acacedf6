import { fmtMs } from "../format";
import { Badge } from "../ui/badge";
import type { ValidationStep } from "./types";

const STEP_LABEL: Record<string, string> = {
  wrap: "Wrap a test key with your KMS key",
  unwrap: "Unwrap it again",
  compare: "Compare the round trip",
  describe: "Describe the key",
};

const REASON_HELP: Record<string, string> = {
  access_denied: "The vendor's identity is not allowed to use this key: the grant, role assignment or IAM binding is missing.",
  disabled: "The key is disabled. Enable it in your cloud console.",
  not_found: "The key does not exist, or the vendor cannot see it.",
  pending_deletion: "The key is scheduled for deletion. Cancel the deletion and enable it.",
  destroyed: "The key material is destroyed.",
  pin_rejected: "The token rejected the PIN the vendor holds (changed or locked). Give the vendor the current PIN.",
  token_removed: "The token is not present in the vendor's HSM.",
  compromised: "Your key manager marks the key compromised. Connect a new key.",
};

export function ValidationSteps({ steps }: { steps: ValidationStep[] }) {
  return (
    <ol className="steps" aria-label="Validation steps" data-testid="validation-steps">
      {steps.map((s) => (
        <li key={s.step} data-step={s.step} data-ok={s.ok}>
          <Badge tone={s.ok ? "success" : "danger"}>{s.ok ? "passed" : "failed"}</Badge>
          <span>
            {STEP_LABEL[s.step] ?? s.step} <span className="muted">· {fmtMs(s.latencyMs)}</span>
            {s.error ? (
              <>
                <br />
                <span className="field-error">
                  {(s.error.reason && REASON_HELP[s.error.reason]) ?? s.error.message}
                  {s.error.code ? ` (${s.error.code})` : ""}
                </span>
              </>
            ) : null}
          </span>
        </li>
      ))}
    </ol>
  );
}
