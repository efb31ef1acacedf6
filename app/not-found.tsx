import Link from "next/link";

export default function NotFound() {
  return (
    <main id="main" className="auth-wrap">
      <div className="card auth-card">
        <h1>Not found</h1>
        <p className="muted">There is nothing here, or you do not have access to it.</p>
        <Link href="/">Back to the console</Link>
      </div>
    </main>
  );
}
