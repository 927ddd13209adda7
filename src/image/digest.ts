// Content digests as OCI writes them: "sha256:" and 64 hex digits.

export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${new Bun.CryptoHasher("sha256").update(bytes).digest("hex")}`;
}

/** The hex part of "sha256:...": how the store and archives name files. */
export function digestHex(digest: string): string {
  return digest.replace(/^sha256:/, "");
}
