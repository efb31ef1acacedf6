// Public surface of the audit layer.
export * from "./types";
export { GENESIS_HASH, canonicalEntry, canonicalJson, chainHash, hashEntry, type AuditEventRecord, type AuditChainFields } from "./canonical";
export { AuditEntryInvalidError, normalizeEntry } from "./chain";
export { AuditWriter, NoopAuditSink, type AuditWriterOptions, type AuditWriterStats, type DurableListener } from "./writer";
export { getBrokerSigner, getPublicKey, listPublicKeys, keyIdOf, verifySignature, type BrokerPublicKey } from "./signing";
export { CheckpointScheduler, checkpointMessage, createCheckpoint, listCheckpoints, type AuditCheckpointRecord, type CheckpointSchedulerOptions } from "./checkpoints";
export { ChainVerifier, verifyExport, verifyTenantChain, type AuditBadEntry, type AuditVerifyResult, type ExportVerifyResult } from "./verify";
export { auditExportContentType, exportTenantAudit, exportTenantAuditStream, type AuditExportFormat, type AuditExportOptions } from "./export";
export { AuditQueryError, AUDIT_PAGE_MAX, decodeCursor, encodeCursor, listAuditEvents, type AuditPage, type AuditQueryFilters } from "./query";
export { AuditLiveFeed, sseMessage, type LiveListener } from "./live";
export { AuditPruneRefusedError, applyRetention, pruneTenantAudit, type PruneResult } from "./retention";
export { WebhookDispatcher, type WebhookDispatcherOptions } from "./webhook-dispatcher";
export { isNonGlobalAddress } from "./webhook-address";
export {
  createWebhookSubscription,
  deleteWebhookSubscription,
  listWebhookDeliveries,
  listWebhookSubscriptions,
  signWebhook,
  validateWebhookUrl,
  verifyWebhookSignature,
  type VerifyWebhookOptions,
  type VerifyWebhookResult,
  type WebhookDeliveryInfo,
  type WebhookSubscriptionInfo,
} from "./webhooks";
