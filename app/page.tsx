import { redirect } from "next/navigation";
import { getConsoleUser } from "@/lib/auth/config";
import { homePath } from "@/lib/auth/roles";

export const dynamic = "force-dynamic";

export default async function Home() {
  const user = await getConsoleUser();
  redirect(user ? homePath(user) : "/sign-in");
}
