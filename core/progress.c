/* Progress on stderr: a redrawn bar on a terminal, plain lines otherwise. */
#include "pflow/progress.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pflow/error.h"

struct pf_progress {
  FILE *f;
  int tty;
  long total, refresh;
  double t0, last_draw;
};

double pf_wtime(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int pf_progress_create(FILE *f, long total, long refresh, pf_progress **out)
{
  pf_progress *p = calloc(1, sizeof *p);
  PF_CHECK(p, PF_ENOMEM, "allocating a progress reporter");
  p->f = f;
  p->tty = f && isatty(fileno(f));
  p->total = total;
  p->refresh = refresh > 0 ? refresh : 100;
  p->t0 = pf_wtime();
  p->last_draw = -1.0;
  *out = p;
  return 0;
}

static void fmt_time(double s, char *buf, size_t cap)
{
  if (!(s >= 0.0) || s > 1e7) {
    snprintf(buf, cap, "--:--");
    return;
  }
  long t = (long)(s + 0.5);
  if (t >= 3600)
    snprintf(buf, cap, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
  else
    snprintf(buf, cap, "%02ld:%02ld", t / 60, t % 60);
}

void pf_progress_update(pf_progress *p, long iter, const char *note)
{
  if (!p || !p->f) return;
  double now = pf_wtime(), el = now - p->t0;
  double rate = el > 0 ? (double)iter / el : 0.0;
  char eta[32];
  fmt_time(rate > 0 ? (double)(p->total - iter) / rate : -1.0, eta, sizeof eta);
  if (p->tty) {
    /* Redraw at most ~10 times a second: drawing costs more than a step. */
    if (iter < p->total && now - p->last_draw < 0.1) return;
    p->last_draw = now;
    enum { W = 30 };
    char bar[W + 1];
    long fill = p->total > 0 ? (long)((double)W * (double)iter / (double)p->total) : W;
    for (long i = 0; i < W; i++) bar[i] = i < fill ? '#' : '.';
    bar[W] = '\0';
    fprintf(p->f, "\r[%s] %ld/%ld %.1f it/s ETA %s %s\033[K", bar, iter,
            p->total, rate, eta, note ? note : "");
    fflush(p->f);
  } else if (iter % p->refresh == 0 || iter == p->total) {
    fprintf(p->f, "iteration %ld/%ld (%3.0f%%) %.1f it/s ETA %s%s%s\n", iter,
            p->total, p->total > 0 ? 100.0 * (double)iter / (double)p->total : 100.0,
            rate, eta, note && *note ? " " : "", note ? note : "");
    fflush(p->f);
  }
}

void pf_progress_finish(pf_progress *p, long iter, const char *status)
{
  if (!p || !p->f) return;
  char el[32];
  fmt_time(pf_wtime() - p->t0, el, sizeof el);
  fprintf(p->f, "%s%s after %ld iterations in %s\n", p->tty ? "\n" : "",
          status, iter, el);
  fflush(p->f);
}

void pf_progress_destroy(pf_progress **p)
{
  if (!p || !*p) return;
  free(*p);
  *p = NULL;
}
