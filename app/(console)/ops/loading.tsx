import { LoadingBlock } from "@/components/ui/state";

export default function Loading() {
  return (
    <div className="card">
      <LoadingBlock label="Loading page" lines={5} />
    </div>
  );
}
