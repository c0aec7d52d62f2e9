/* The growing string of core/strbuf.h. */
#include "strbuf.h"

#include <stdlib.h>
#include <string.h>

void pf__strbuf_put(pf__strbuf *b, const char *s, size_t len)
{
  if (b->oom) return;
  if (b->n + len + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (b->n + len + 1 > cap) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
      b->oom = 1;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->n, s, len);
  b->n += len;
  b->p[b->n] = '\0';
}

void pf__strbuf_puts(pf__strbuf *b, const char *s)
{
  pf__strbuf_put(b, s, strlen(s));
}
