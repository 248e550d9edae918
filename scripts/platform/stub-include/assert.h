/* Stub for type-checking on a Linux host (see string.h). */
#ifndef LATCHKEY_STUB_ASSERT_H
#define LATCHKEY_STUB_ASSERT_H
#define assert(x) ((void)0)
#endif
