import type { HTMLAttributes, ReactNode } from "react";

export function Card({ tone, className, children, ...rest }: HTMLAttributes<HTMLElement> & { tone?: "danger" }) {
  return (
    <section className={["card", tone === "danger" ? "card-danger" : "", className ?? ""].filter(Boolean).join(" ")} {...rest}>
      {children}
    </section>
  );
}

export function CardTitle({ children, action, as: Tag = "h2" }: { children: ReactNode; action?: ReactNode; as?: "h2" | "h3" }) {
  return (
    <div className="card-title">
      <Tag style={{ margin: 0 }}>{children}</Tag>
      {action}
    </div>
  );
}

export function Stat({ label, value, testId }: { label: string; value: ReactNode; testId?: string }) {
  return (
    <Card>
      <p className="stat-label">{label}</p>
      <p className="stat-value" data-testid={testId}>
        {value}
      </p>
    </Card>
  );
}
