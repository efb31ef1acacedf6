// The KMS providers a key reference may name: one enum for every request, response and audit schema.
import { z } from "zod";

export const ZKmsProviderName = z.enum(["aws", "azure", "gcp", "kmip", "pkcs11"]);
