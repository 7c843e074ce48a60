/** The protocol version this server speaks (Hello.protocol_version). Bump on a change a current client cannot read. */
export const PROTOCOL_VERSION = 1;
/** The oldest client protocol version still accepted. */
export const MIN_PROTOCOL_VERSION = 1;
