// Next.js serves the console (server.ts runs it in-process, so no `output: "standalone"`).
// Security headers apply to every page Next.js serves; the API (Fastify) sets its own.
const dev = process.env.NODE_ENV === "development";

// Next.js inlines small bootstrap scripts without a nonce, hence 'unsafe-inline' for scripts;
// 'unsafe-eval' is needed only by React's development build.
const csp = [
  "default-src 'self'",
  `script-src 'self' 'unsafe-inline'${dev ? " 'unsafe-eval'" : ""}`,
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/** @type {import('next').NextConfig} */
const nextConfig = {
  poweredByHeader: false,
  // next build type-checks what it serves (app, components, lib); `npm run typecheck` covers the
  // whole repository, benchmarks, emulators and tests included.
  typescript: { tsconfigPath: "tsconfig.next.json" },
  reactStrictMode: true,
  async headers() {
    return [
      {
        source: "/:path*",
        headers: [
          { key: "Content-Security-Policy", value: csp },
          { key: "X-Frame-Options", value: "DENY" },
          { key: "X-Content-Type-Options", value: "nosniff" },
          { key: "Referrer-Policy", value: "strict-origin-when-cross-origin" },
          { key: "Permissions-Policy", value: "camera=(), microphone=(), geolocation=(), payment=()" },
          { key: "Cross-Origin-Opener-Policy", value: "same-origin" },
        ],
      },
    ];
  },
};

export default nextConfig;
