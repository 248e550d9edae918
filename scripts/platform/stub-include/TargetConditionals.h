/* Stub for type-checking on a Linux host: the Apple SDK's header is not available here. */
