/* A growing NUL-terminated string, internal to core/ (the config emitter
 * and the sweep manifest).  An allocation failure sets `oom` and turns
 * every later append into a no-op, so callers check once at the end and
 * free `p` either way.  Not thread-safe. */
#ifndef PFLOW_CORE_STRBUF_H
#define PFLOW_CORE_STRBUF_H

#include <stddef.h>

typedef struct pf__strbuf {
  char *p; /* NULL until the first append; owned by the caller */
  size_t n, cap;
  int oom;
} pf__strbuf;

/* Append len bytes of s (doubling the capacity as needed). */
void pf__strbuf_put(pf__strbuf *b, const char *s, size_t len);

/* Append the string s. */
void pf__strbuf_puts(pf__strbuf *b, const char *s);

#endif
