/* Stub for type-checking on a Linux host: ring's C needs only these prototypes. A real device
   build uses the NDK's / the Apple SDK's headers instead. */
#ifndef LATCHKEY_STUB_STRING_H
#define LATCHKEY_STUB_STRING_H
#include <stddef.h>
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
#endif
