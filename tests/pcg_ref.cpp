// Reference outputs of the C++ PCG library (Debian's libpcg-cpp-dev) for the
// bit-for-bit test of core/rng.c.
//
//   pcg_ref SEED STREAM N
//
// SEED and STREAM are 128-bit values in hexadecimal (1 to 32 digits, an
// optional 0x prefix; tests pass them as 32 digits, high half first).
// Prints the first N outputs of `pcg64 g(SEED, STREAM)` -- pcg64 is
// pcg_engines::setseq_xsl_rr_128_64 -- one per line as 16 hex digits.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <pcg_random.hpp>

using pcg_extras::pcg128_t;

static bool parse_hex128(const char *s, pcg128_t *out)
{
  if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s += 2;
  size_t len = std::strlen(s);
  if (len == 0 || len > 32) return false;
  pcg128_t v = 0;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    unsigned d;
    if (c >= '0' && c <= '9') d = unsigned(c - '0');
    else if (c >= 'a' && c <= 'f') d = unsigned(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') d = unsigned(c - 'A' + 10);
    else return false;
    v = (v << 4) | pcg128_t(d);
  }
  *out = v;
  return true;
}

int main(int argc, char **argv)
{
  pcg128_t seed, stream;
  char *end = nullptr;
  if (argc != 4 || !parse_hex128(argv[1], &seed) ||
      !parse_hex128(argv[2], &stream)) {
    std::fprintf(stderr, "usage: pcg_ref SEED_HEX STREAM_HEX N\n");
    return 2;
  }
  unsigned long long n = std::strtoull(argv[3], &end, 10);
  if (!end || *end) {
    std::fprintf(stderr, "pcg_ref: bad count '%s'\n", argv[3]);
    return 2;
  }
  pcg64 g(seed, stream);
  for (unsigned long long i = 0; i < n; i++)
    std::printf("%016llx\n", (unsigned long long)g());
  return std::fflush(stdout) == 0 ? 0 : 1;
}
