import type { Metadata } from "next";
import { FactorsPanel } from "@/components/account/factors";

export const metadata: Metadata = { title: "Security" };

// Every console user manages their own factors; the API scopes them to the signed-in user.
export default function SecurityPage() {
  return <FactorsPanel />;
}
