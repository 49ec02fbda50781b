/*
 * gen: deterministic test data (see gen.h beside it for the contract).
 *
 * Keys are bijections of the row index: a keyed permutation of [0, 2^62) (xor, odd multiplies
 * and xorshifts, each invertible modulo 2^62) plus a family marker that present and missing keys
 * never share. Attributes and events draw from a splitmix64 stream seeded by (seed, purpose,
 * index), so any row or event is computed on its own.
 */
#include "gen.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "civil.h"
#include "log.h"
#include "tsv.h"

#define GEN_MASK62 GEN_INDEX_MAX
#define GEN_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* One salt per purpose so that streams and permutations of different purposes are unrelated. */
enum gen_salt {
	GEN_SALT_USER = 1,
	GEN_SALT_USER_MISSING,
	GEN_SALT_USER_ATTR,
	GEN_SALT_DEVICE,
	GEN_SALT_DEVICE_MISSING,
	GEN_SALT_DEVICE_ATTR,
	GEN_SALT_URL,
	GEN_SALT_URL_MISSING,
	GEN_SALT_EVENT,
};

/* ---- mixing and random streams -------------------------------------------------------------- */

static inline uint64_t gen_key(uint64_t seed, enum gen_salt salt)
{
	return gen_mix64(seed + (uint64_t)salt * GEN_MIX_GOLDEN);
}

static inline uint64_t gen_hash(uint64_t key, uint64_t i)
{
	return gen_mix64(key ^ gen_mix64(i + GEN_MIX_GOLDEN));
}

/* Keyed bijection of [0, 2^62): every step is invertible modulo 2^62. */
static inline uint64_t gen_perm62(uint64_t key, uint64_t x)
{
	x = (x ^ key) & GEN_MASK62;
	x = (x * UINT64_C(0x9e3779b97f4a7c15)) & GEN_MASK62;
	x ^= x >> 31;
	x = (x * UINT64_C(0xbf58476d1ce4e5b9)) & GEN_MASK62;
	x ^= x >> 29;
	x = (x + (key >> 2)) & GEN_MASK62;
	x = (x * UINT64_C(0x94d049bb133111eb)) & GEN_MASK62;
	x ^= x >> 32;
	return x;
}

/* Uniform double in [0, 1). */
static inline double gen_unit(struct gen_rng *r)
{
	return (double)(gen_next(r) >> 11) * 0x1.0p-53;
}

/* True with probability p (p >= 1 always, p <= 0 never). */
static inline bool gen_chance(struct gen_rng *r, double p)
{
	return gen_unit(r) < p;
}

/* ---- fixed vocabularies --------------------------------------------------------------------- */

static const char gen_base32[] = "0123456789abcdefghjkmnpqrstvwxyz";

/* Ordered from most to least common; gen_user_row_fill skews towards the front. */
static const char *const gen_countries[] = {
	"US", "IN", "CN", "BR", "ID", "JP", "RU", "DE", "GB", "FR", "MX", "NG", "TR", "IT", "PH",
	"VN", "KR", "ES", "EG", "PK", "IR", "TH", "CA", "PL", "BD", "AR", "CO", "ZA", "SA", "UA",
	"MY", "AU", "NL", "MA", "DZ", "PE", "VE", "TW", "CL", "KE", "RO", "IQ", "UZ", "KZ", "BE",
	"SE", "CZ", "PT", "GR", "HU", "CH", "AT", "IL", "AE", "SG", "HK", "NZ", "DK", "FI", "NO",
	"IE", "SK", "BG", "RS", "HR", "BY", "AZ", "TN", "GH", "EC", "GT", "DO", "BO", "PY", "UY",
	"CR", "PA", "SV", "HN", "NI", "CU", "JM", "TT", "PR", "LK", "NP", "MM", "KH", "LA", "MN",
	"AF", "YE", "SY", "JO", "LB", "KW", "QA", "OM", "BH", "ET", "TZ", "UG", "SD", "AO", "CM",
	"CI", "SN", "ML", "BF", "NE", "MZ", "MG", "ZM", "ZW", "MW", "RW", "BJ", "TG", "SO", "GN",
	"TD", "SS", "LY", "ER", "CD", "CG", "GA", "GQ", "BW", "NA", "LS", "SZ", "MU", "SC", "KM",
	"DJ", "CV", "ST", "GM", "GW", "SL", "LR", "MR", "BI", "CF", "GE", "AM", "MD", "AL", "MK",
	"BA", "ME", "SI", "EE", "LV", "LT", "LU", "MT", "CY", "IS", "AD", "MC", "SM", "LI", "VA",
	"FO", "GL", "BN", "TL", "PG", "FJ", "SB", "VU", "WS", "TO", "KI", "FM", "MH", "NR", "PW",
	"TV", "BT", "MV", "BS", "BB", "BZ", "GY", "SR", "HT", "AG", "DM", "GD", "KN", "LC", "VC",
	"AW", "CW", "KY", "BM", "VG", "TC", "AI", "MS", "GF", "GP", "MQ", "RE", "YT", "NC", "PF",
	"TJ", "KG", "TM", "PS", "MO",
};

struct gen_weighted {
	const char *name;
	uint32_t weight; /* per mille within its table */
};

static const struct gen_weighted gen_plans[] = {
	{"free", 700}, {"basic", 180}, {"pro", 90}, {"enterprise", 30},
};

/* Device types, each with its operating systems. */
enum gen_browser_set {
	GEN_BROWSERS_ANDROID,
	GEN_BROWSERS_APPLE,
	GEN_BROWSERS_WINDOWS,
	GEN_BROWSERS_MAC,
	GEN_BROWSERS_LINUX,
	GEN_BROWSERS_CHROMEOS,
	GEN_BROWSERS_TV,
	GEN_BROWSERS_FIRE,
	GEN_BROWSERS_CONSOLE,
	GEN_BROWSERS_WATCH,
	GEN_BROWSERS_COUNT,
};

struct gen_os {
	const char *name;
	uint32_t weight;
	enum gen_browser_set browsers;
};

struct gen_device_type {
	const char *name;
	uint32_t weight;
	const struct gen_os *os;
	size_t os_count;
};

static const struct gen_os gen_os_mobile[] = {
	{"Android", 700, GEN_BROWSERS_ANDROID}, {"iOS", 290, GEN_BROWSERS_APPLE},
	{"HarmonyOS", 7, GEN_BROWSERS_ANDROID}, {"KaiOS", 3, GEN_BROWSERS_LINUX},
};
static const struct gen_os gen_os_desktop[] = {
	{"Windows", 720, GEN_BROWSERS_WINDOWS}, {"macOS", 170, GEN_BROWSERS_MAC},
	{"Linux", 60, GEN_BROWSERS_LINUX}, {"ChromeOS", 50, GEN_BROWSERS_CHROMEOS},
};
static const struct gen_os gen_os_tablet[] = {
	{"iPadOS", 550, GEN_BROWSERS_APPLE}, {"Android", 430, GEN_BROWSERS_ANDROID},
	{"Windows", 20, GEN_BROWSERS_WINDOWS},
};
static const struct gen_os gen_os_tv[] = {
	{"Android TV", 350, GEN_BROWSERS_TV}, {"Tizen", 250, GEN_BROWSERS_TV},
	{"webOS", 200, GEN_BROWSERS_TV}, {"tvOS", 100, GEN_BROWSERS_APPLE},
	{"Roku OS", 70, GEN_BROWSERS_TV}, {"Fire OS", 30, GEN_BROWSERS_FIRE},
};
static const struct gen_os gen_os_console[] = {
	{"PlayStation", 500, GEN_BROWSERS_CONSOLE}, {"Xbox", 400, GEN_BROWSERS_CONSOLE},
	{"Nintendo", 100, GEN_BROWSERS_CONSOLE},
};
static const struct gen_os gen_os_wearable[] = {
	{"watchOS", 600, GEN_BROWSERS_WATCH}, {"Wear OS", 400, GEN_BROWSERS_WATCH},
};
static const struct gen_os gen_os_car[] = {
	{"Android Automotive", 600, GEN_BROWSERS_ANDROID}, {"Linux", 400, GEN_BROWSERS_LINUX},
};
static const struct gen_os gen_os_other[] = {
	{"Linux", 500, GEN_BROWSERS_LINUX}, {"Unknown", 500, GEN_BROWSERS_LINUX},
};

static const struct gen_device_type gen_device_types[] = {
	{"mobile", 550, gen_os_mobile, GEN_ARRAY_LEN(gen_os_mobile)},
	{"desktop", 330, gen_os_desktop, GEN_ARRAY_LEN(gen_os_desktop)},
	{"tablet", 80, gen_os_tablet, GEN_ARRAY_LEN(gen_os_tablet)},
	{"tv", 20, gen_os_tv, GEN_ARRAY_LEN(gen_os_tv)},
	{"console", 10, gen_os_console, GEN_ARRAY_LEN(gen_os_console)},
	{"wearable", 6, gen_os_wearable, GEN_ARRAY_LEN(gen_os_wearable)},
	{"car", 2, gen_os_car, GEN_ARRAY_LEN(gen_os_car)},
	{"other", 2, gen_os_other, GEN_ARRAY_LEN(gen_os_other)},
};

struct gen_browser_table {
	const struct gen_weighted *items;
	size_t count;
};

static const struct gen_weighted gen_browsers_android[] = {
	{"Chrome", 650}, {"Samsung Internet", 200}, {"Opera", 50},
	{"Firefox", 40}, {"UC Browser", 40}, {"Edge", 20},
};
static const struct gen_weighted gen_browsers_apple[] = {
	{"Safari", 800}, {"Chrome", 150}, {"Firefox", 30}, {"Edge", 20},
};
static const struct gen_weighted gen_browsers_windows[] = {
	{"Chrome", 660}, {"Edge", 240}, {"Firefox", 80}, {"Opera", 20},
};
static const struct gen_weighted gen_browsers_mac[] = {
	{"Safari", 520}, {"Chrome", 400}, {"Firefox", 60}, {"Edge", 20},
};
static const struct gen_weighted gen_browsers_linux[] = {
	{"Chrome", 600}, {"Firefox", 350}, {"Chromium", 50},
};
static const struct gen_weighted gen_browsers_chromeos[] = {
	{"Chrome", 1000},
};
static const struct gen_weighted gen_browsers_tv[] = {
	{"Embedded", 700}, {"Chrome", 200}, {"Samsung Internet", 100},
};
static const struct gen_weighted gen_browsers_fire[] = {
	{"Silk", 900}, {"Embedded", 100},
};
static const struct gen_weighted gen_browsers_console[] = {
	{"Embedded", 800}, {"Edge", 200},
};
static const struct gen_weighted gen_browsers_watch[] = {
	{"Embedded", 1000},
};

static const struct gen_browser_table gen_browser_tables[GEN_BROWSERS_COUNT] = {
	[GEN_BROWSERS_ANDROID] = {gen_browsers_android, GEN_ARRAY_LEN(gen_browsers_android)},
	[GEN_BROWSERS_APPLE] = {gen_browsers_apple, GEN_ARRAY_LEN(gen_browsers_apple)},
	[GEN_BROWSERS_WINDOWS] = {gen_browsers_windows, GEN_ARRAY_LEN(gen_browsers_windows)},
	[GEN_BROWSERS_MAC] = {gen_browsers_mac, GEN_ARRAY_LEN(gen_browsers_mac)},
	[GEN_BROWSERS_LINUX] = {gen_browsers_linux, GEN_ARRAY_LEN(gen_browsers_linux)},
	[GEN_BROWSERS_CHROMEOS] = {gen_browsers_chromeos, GEN_ARRAY_LEN(gen_browsers_chromeos)},
	[GEN_BROWSERS_TV] = {gen_browsers_tv, GEN_ARRAY_LEN(gen_browsers_tv)},
	[GEN_BROWSERS_FIRE] = {gen_browsers_fire, GEN_ARRAY_LEN(gen_browsers_fire)},
	[GEN_BROWSERS_CONSOLE] = {gen_browsers_console, GEN_ARRAY_LEN(gen_browsers_console)},
	[GEN_BROWSERS_WATCH] = {gen_browsers_watch, GEN_ARRAY_LEN(gen_browsers_watch)},
};

/* Domains are "<prefix>-<suffix>.<tld>": 48 x 64 = GEN_DOMAIN_COUNT distinct names. */
static const char *const gen_domain_prefixes[48] = {
	"nova", "blue", "red", "green", "fast", "smart", "daily", "city", "global", "open",
	"bright", "silver", "golden", "urban", "pixel", "cloud", "river", "mountain", "sun", "star",
	"prime", "happy", "simple", "north", "south", "east", "west", "metro", "alpha", "delta",
	"rapid", "true", "wild", "clear", "fresh", "iron", "ocean", "maple", "cedar", "quantum",
	"vivid", "lunar", "solar", "coral", "amber", "crystal", "tiny", "grand",
};
static const char *const gen_domain_suffixes[64] = {
	"news", "shop", "store", "media", "times", "post", "hub", "world", "tech", "labs",
	"games", "play", "music", "video", "travel", "foods", "kitchen", "market", "deals", "mart",
	"sports", "zone", "bank", "finance", "health", "care", "auto", "cars", "homes", "living",
	"style", "fashion", "beauty", "books", "learn", "school", "jobs", "careers", "weather", "maps",
	"social", "chat", "mail", "search", "wiki", "blog", "forum", "daily", "review", "guide",
	"tickets", "events", "movies", "stream", "radio", "pets", "garden", "tools", "science", "space",
	"photo", "art", "design", "cloud",
};
static const char *const gen_tlds[] = {
	"com", "com", "com", "com", "net", "org", "io", "co", "de", "co.uk", "fr", "jp", "ru", "com.br",
	"in", "it", "es", "nl", "pl", "ca", "com.au", "se", "ch", "info",
};

static const char *const gen_categories[30] = {
	"news", "sports", "shopping", "travel", "finance", "technology", "entertainment", "music",
	"video", "games", "social", "education", "health", "food", "automotive", "real-estate",
	"jobs", "weather", "science", "fashion", "beauty", "parenting", "pets", "home-garden",
	"books", "business", "government", "reference", "streaming", "search",
};

static const char *const gen_sections[] = {
	"news", "article", "products", "category", "blog", "watch", "listen", "docs", "help", "store",
	"deals", "world", "sport", "tech", "review", "story", "travel", "recipes", "live", "account",
};
static const char *const gen_words[] = {
	"red", "apple", "summer", "sale", "review", "best", "guide", "how-to", "top", "new",
	"cheap", "flight", "hotel", "phone", "laptop", "shoes", "jacket", "recipe", "pasta", "chicken",
	"match", "score", "final", "election", "market", "stock", "crypto", "weather", "storm", "city",
	"music", "album", "tour", "movie", "trailer", "series", "season", "episode", "game", "patch",
	"update", "launch", "offer", "coupon", "kids", "garden", "home", "car", "electric", "travel",
	"beach", "winter", "ski", "yoga", "diet", "health", "science", "space", "mars", "ai",
	"cloud", "linux", "coffee", "wine",
};
/* Slug words with non-ASCII UTF-8: 2-, 3- and 4-byte sequences (the last need surrogate pairs
 * when escaped as \uXXXX). */
static const char *const gen_words_utf8[] = {
	"caf\xc3\xa9",                                 /* café */
	"\xc3\xbc" "ber",                              /* über */
	"stra\xc3\x9f" "e",                            /* straße */
	"na\xc3\xafve",                                /* naïve */
	"espa\xc3\xb1ol",                              /* español */
	"\xd0\xbc\xd0\xbe\xd1\x81\xd0\xba\xd0\xb2\xd0\xb0", /* москва */
	"\xce\xb5\xce\xbb\xce\xbb\xce\xac\xce\xb4\xce\xb1", /* ελλάδα */
	"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",       /* 日本語 */
	"\xe4\xb8\xad\xe6\x96\x87",                     /* 中文 */
	"\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4",       /* 한국어 */
	"\xf0\x9f\x9a\x80launch",                      /* rocket + launch */
	"emoji-\xf0\x9f\x98\x80",                      /* grinning face */
	"\xf0\x9d\x84\x9emusic",                       /* musical symbol G clef */
	"\xd8\xb9\xd8\xb1\xd8\xa8\xd9\x8a",           /* عربي */
};
/* Query tails holding characters that TSV, CSV or JSON writers must escape. */
static const char *const gen_query_specials[] = {
	"&q=\"quoted\"", "&path=C:\\temp\\x", "&list=a,b,c", "&name=o'brien", "&q=\"a,b\"\\n",
};
static const char *const gen_langs[] = {"en", "de", "fr", "es", "ja", "pt-br", "zh-cn", "ru"};
static const char *const gen_utm_sources[] = {"google", "facebook", "newsletter", "twitter",
					      "bing", "partner"};
static const char *const gen_utm_media[] = {"cpc", "email", "social", "display", "organic"};

static const char *gen_pick(struct gen_rng *r, const char *const *items, size_t count)
{
	return items[gen_below(r, count)];
}

/* Weighted pick: weights of a table add up to 1000 (the last item takes any remainder). */
static const struct gen_weighted *gen_pick_weighted(uint64_t roll, const struct gen_weighted *items,
						    size_t count)
{
	uint32_t x = (uint32_t)(roll % 1000);
	for (size_t k = 0; k + 1 < count; k++) {
		if (x < items[k].weight)
			return &items[k];
		x -= items[k].weight;
	}
	return &items[count - 1];
}

/* ---- bounded string builder ----------------------------------------------------------------- */

struct gen_buf {
	char *p;
	size_t len;
	size_t cap; /* usable bytes (the caller keeps room for a NUL where it wants one) */
	bool overflow;
};

static inline void gen_put(struct gen_buf *b, const void *s, size_t n)
{
	if (n > b->cap - b->len) {
		b->overflow = true;
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

/* Short NUL-terminated strings (vocabulary words): a byte loop beats strlen plus memcpy. */
static inline void gen_puts(struct gen_buf *b, const char *s)
{
	for (; *s; s++) {
		if (b->len >= b->cap) {
			b->overflow = true;
			return;
		}
		b->p[b->len++] = *s;
	}
}

static inline void gen_putc(struct gen_buf *b, char c)
{
	if (b->len >= b->cap) {
		b->overflow = true;
		return;
	}
	b->p[b->len++] = c;
}

static const char gen_digit_pairs[201] =
	"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
	"8081828384858687888990919293949596979899";

/* Decimal digits of v at the end of tmp[20]; returns where they start. */
static inline char *gen_u64_to_digits(uint64_t v, char tmp[20])
{
	char *p = tmp + 20;
	while (v >= 100) {
		unsigned k = (unsigned)(v % 100) * 2;
		v /= 100;
		*--p = gen_digit_pairs[k + 1];
		*--p = gen_digit_pairs[k];
	}
	if (v >= 10) {
		unsigned k = (unsigned)v * 2;
		*--p = gen_digit_pairs[k + 1];
		*--p = gen_digit_pairs[k];
	} else {
		*--p = (char)('0' + v);
	}
	return p;
}

/* Decimal digits of v, returns the count (1 to 20); out has room for 20. */
static size_t gen_u64_digits(uint64_t v, char out[20])
{
	char tmp[20];
	char *p = gen_u64_to_digits(v, tmp);
	size_t n = (size_t)(tmp + 20 - p);
	memcpy(out, p, n);
	return n;
}

static void gen_put_u64(struct gen_buf *b, uint64_t v)
{
	char tmp[20];
	char *p = gen_u64_to_digits(v, tmp);
	gen_put(b, p, (size_t)(tmp + 20 - p));
}

/* v in [0, 10^width) as exactly width digits. */
static void gen_put_fixed(struct gen_buf *b, uint64_t v, int width)
{
	char d[20];
	for (int k = width - 1; k >= 0; k--) {
		d[k] = (char)('0' + v % 10);
		v /= 10;
	}
	gen_put(b, d, (size_t)width);
}

/* v in [0, 10^width) as exactly width digits at p. */
static inline void gen_fmt_digits(char *p, unsigned v, int width)
{
	for (int k = width - 1; k >= 0; k--) {
		p[k] = (char)('0' + v % 10);
		v /= 10;
	}
}

/* ---- keys ----------------------------------------------------------------------------------- */

uint64_t gen_user_id(uint64_t seed, uint64_t i)
{
	return (UINT64_C(1) << 62) | gen_perm62(gen_key(seed, GEN_SALT_USER), i & GEN_MASK62);
}

uint64_t gen_user_id_missing(uint64_t seed, uint64_t j)
{
	return (UINT64_C(1) << 63) |
	       gen_perm62(gen_key(seed, GEN_SALT_USER_MISSING), j & GEN_MASK62);
}

/*
 * Device ids: one in 8 is numeric, 10^19 + perm (20 digits) when present and 10^18 + perm
 * (19 digits) when missing; the others are "dev-" + a class character ([0-9a-f] present,
 * [g-z] missing) + 16 base32 characters holding 16 noise bits above a 64-bit bijection of the
 * index, so distinct indexes of one family never share an id.
 */
static size_t gen_device_id_make(uint64_t key, uint64_t idx, bool missing, char *buf)
{
	idx &= GEN_MASK62;
	uint64_t h = gen_hash(key, idx);
	if ((h & 7) == 0) {
		uint64_t base = missing ? UINT64_C(1000000000000000000) : UINT64_C(10000000000000000000);
		size_t n = gen_u64_digits(base + gen_perm62(key, idx), buf);
		buf[n] = '\0';
		return n;
	}
	uint64_t lo = gen_mix64(idx ^ key); /* bijective in idx */
	uint64_t hi = (h >> 16) & 0xffff;   /* 80 bits: hi:lo */
	memcpy(buf, "dev-", 4);
	buf[4] = gen_base32[(missing ? 16 : 0) + ((h >> 8) & 15)];
	for (int k = 0; k < 16; k++) {
		int shift = 75 - 5 * k; /* bit offset of this character within hi:lo */
		uint64_t v;
		if (shift >= 64)
			v = hi >> (shift - 64);
		else if (shift > 59)
			v = (lo >> shift) | (hi << (64 - shift));
		else
			v = lo >> shift;
		buf[5 + k] = gen_base32[v & 31];
	}
	buf[21] = '\0';
	return 21;
}

size_t gen_device_id(uint64_t seed, uint64_t i, char buf[GEN_DEVICE_ID_MAX])
{
	return gen_device_id_make(gen_key(seed, GEN_SALT_DEVICE), i, false, buf);
}

size_t gen_device_id_missing(uint64_t seed, uint64_t j, char buf[GEN_DEVICE_ID_MAX])
{
	return gen_device_id_make(gen_key(seed, GEN_SALT_DEVICE_MISSING), j, true, buf);
}

/* Domain names, built once: "<prefix>-<suffix>.<tld>", independent of the seed. */
static struct {
	char name[GEN_DOMAIN_MAX];
	uint8_t len;
} gen_domains[GEN_DOMAIN_COUNT];
static pthread_once_t gen_domains_once = PTHREAD_ONCE_INIT;

static void gen_domains_build(void)
{
	for (uint32_t d = 0; d < GEN_DOMAIN_COUNT; d++) {
		struct gen_buf b = {gen_domains[d].name, 0, GEN_DOMAIN_MAX - 1, false};
		gen_puts(&b, gen_domain_prefixes[d / 64]);
		gen_putc(&b, '-');
		gen_puts(&b, gen_domain_suffixes[d % 64]);
		gen_putc(&b, '.');
		gen_puts(&b, gen_tlds[gen_mix64(d + 77) % GEN_ARRAY_LEN(gen_tlds)]);
		gen_domains[d].name[b.len] = '\0';
		gen_domains[d].len = (uint8_t)b.len;
	}
}

/* Domain number d (< GEN_DOMAIN_COUNT) into b. */
static void gen_domain_put(struct gen_buf *b, uint32_t d)
{
	pthread_once(&gen_domains_once, gen_domains_build);
	gen_put(b, gen_domains[d].name, gen_domains[d].len);
}

static const char *gen_domain_category(uint32_t d)
{
	return gen_categories[gen_mix64((uint64_t)d * 31 + 5) % GEN_ARRAY_LEN(gen_categories)];
}

/* The 14-character unique part of a url: class character, then 13 base32 characters holding
 * perm62(idx) (with 3 noise bits on top). */
static void gen_url_token(uint64_t key, uint64_t idx, bool missing, uint64_t noise, char out[14])
{
	uint64_t v = gen_perm62(key, idx);
	out[0] = gen_base32[(missing ? 16 : 0) + (noise & 15)];
	out[1] = gen_base32[((v >> 60) & 3) | (((noise >> 4) & 7) << 2)];
	for (int k = 0; k < 12; k++)
		out[2 + k] = gen_base32[(v >> (55 - 5 * k)) & 31];
}

static const char *gen_slug_word(struct gen_rng *r)
{
	if (gen_below(r, 16) == 0)
		return gen_pick(r, gen_words_utf8, GEN_ARRAY_LEN(gen_words_utf8));
	return gen_pick(r, gen_words, GEN_ARRAY_LEN(gen_words));
}

/* Appends the path of a url (starting with '/') from one of several templates. */
static void gen_url_path(struct gen_buf *b, struct gen_rng *r, const char token[14])
{
	const char *section = gen_pick(r, gen_sections, GEN_ARRAY_LEN(gen_sections));
	unsigned template = (unsigned)gen_below(r, 16);
	switch (template) {
	case 0: case 1: case 2: case 3:
		gen_putc(b, '/'); gen_puts(b, section); gen_putc(b, '/');
		gen_puts(b, gen_slug_word(r)); gen_putc(b, '-'); gen_puts(b, gen_slug_word(r));
		gen_putc(b, '-'); gen_put(b, token, 14);
		break;
	case 4: case 5:
		gen_putc(b, '/'); gen_puts(b, section); gen_putc(b, '/');
		gen_put_fixed(b, 2010 + gen_below(r, 16), 4); gen_putc(b, '/');
		gen_put_fixed(b, 1 + gen_below(r, 12), 2); gen_putc(b, '/');
		gen_put(b, token, 14); gen_puts(b, ".html");
		break;
	case 6: case 7:
		gen_puts(b, "/p/"); gen_put(b, token, 14);
		break;
	case 8: case 9:
		gen_putc(b, '/'); gen_puts(b, section); gen_putc(b, '/');
		gen_puts(b, gen_pick(r, gen_sections, GEN_ARRAY_LEN(gen_sections))); gen_putc(b, '/');
		gen_put(b, token, 14); gen_puts(b, "?ref="); gen_puts(b, gen_slug_word(r));
		break;
	case 10:
		gen_putc(b, '/'); gen_put(b, token, 14);
		break;
	case 11:
		gen_puts(b, "/search?q="); gen_puts(b, gen_slug_word(r)); gen_putc(b, '+');
		gen_puts(b, gen_slug_word(r)); gen_puts(b, "&id="); gen_put(b, token, 14);
		break;
	case 12: case 13:
		gen_putc(b, '/'); gen_puts(b, section); gen_putc(b, '/');
		gen_puts(b, gen_slug_word(r)); gen_putc(b, '/'); gen_put(b, token, 14);
		gen_putc(b, '#'); gen_puts(b, gen_pick(r, gen_words, GEN_ARRAY_LEN(gen_words)));
		break;
	case 14:
		gen_putc(b, '/'); gen_puts(b, gen_pick(r, gen_langs, GEN_ARRAY_LEN(gen_langs)));
		gen_putc(b, '/'); gen_puts(b, section); gen_putc(b, '/'); gen_put(b, token, 14);
		gen_putc(b, '/');
		break;
	default:
		gen_puts(b, "/item/"); gen_put(b, token, 14); gen_puts(b, "?utm_source=");
		gen_puts(b, gen_pick(r, gen_utm_sources, GEN_ARRAY_LEN(gen_utm_sources)));
		gen_puts(b, "&utm_medium=");
		gen_puts(b, gen_pick(r, gen_utm_media, GEN_ARRAY_LEN(gen_utm_media)));
		gen_puts(b, "&utm_campaign="); gen_puts(b, gen_pick(r, gen_words, GEN_ARRAY_LEN(gen_words)));
		break;
	}
	bool has_query = template == 8 || template == 9 || template == 11 || template == 15;
	bool has_fragment = template == 12 || template == 13;
	if (gen_below(r, 64) == 0 && !has_fragment) {
		/* A rare query part with characters that need escaping in TSV, CSV and JSON. */
		if (!has_query)
			gen_puts(b, "?x=1");
		gen_puts(b, gen_pick(r, gen_query_specials, GEN_ARRAY_LEN(gen_query_specials)));
	}
}

/* Builds url idx of a family into buf; its domain number into *domain. The token keeps urls
 * unique; should a template not fit, the url falls back to "https://<domain>/<token>". */
static size_t gen_url_make(uint64_t key, uint64_t idx, bool missing, char *buf, uint32_t *domain)
{
	idx &= GEN_MASK62;
	struct gen_rng r = {gen_hash(key, idx)};
	char token[14];
	gen_url_token(key, idx, missing, gen_next(&r), token);
	double u = gen_unit(&r);
	uint32_t d = (uint32_t)(u * u * GEN_DOMAIN_COUNT); /* skewed towards low numbers */
	if (d >= GEN_DOMAIN_COUNT)
		d = GEN_DOMAIN_COUNT - 1;
	*domain = d;
	struct gen_buf b = {buf, 0, GEN_URL_MAX - 1, false};
	gen_puts(&b, "https://");
	gen_domain_put(&b, d);
	size_t host_end = b.len;
	gen_url_path(&b, &r, token);
	if (b.overflow) {
		b.len = host_end;
		b.overflow = false;
		gen_putc(&b, '/');
		gen_put(&b, token, 14);
	}
	buf[b.len] = '\0';
	return b.len;
}

size_t gen_url(uint64_t seed, uint64_t i, char buf[GEN_URL_MAX])
{
	uint32_t d;
	return gen_url_make(gen_key(seed, GEN_SALT_URL), i, false, buf, &d);
}

size_t gen_url_missing(uint64_t seed, uint64_t j, char buf[GEN_URL_MAX])
{
	uint32_t d;
	return gen_url_make(gen_key(seed, GEN_SALT_URL_MISSING), j, true, buf, &d);
}

/* ---- dimension rows ------------------------------------------------------------------------- */

#define GEN_SIGNUP_FIRST_DAY 15340 /* 2012-01-01 */
#define GEN_SIGNUP_DAYS 5114       /* to 2025-12-31 */

void gen_user_row_fill(uint64_t seed, uint64_t i, struct gen_user_row *out)
{
	struct gen_rng r = {gen_hash(gen_key(seed, GEN_SALT_USER_ATTR), i)};
	out->user_id = gen_user_id(seed, i);
	double u = gen_unit(&r);
	size_t c = (size_t)(u * u * u * (double)GEN_ARRAY_LEN(gen_countries));
	if (c >= GEN_ARRAY_LEN(gen_countries))
		c = GEN_ARRAY_LEN(gen_countries) - 1;
	out->country = gen_countries[c];
	out->plan = gen_pick_weighted(gen_next(&r), gen_plans, GEN_ARRAY_LEN(gen_plans))->name;
	double v = gen_unit(&r);
	/* More recent signups are more common. */
	out->signup_days = GEN_SIGNUP_FIRST_DAY + (int32_t)((1.0 - v * v) * (GEN_SIGNUP_DAYS - 1));
}

void gen_device_row_fill(uint64_t seed, uint64_t i, struct gen_device_row *out)
{
	struct gen_rng r = {gen_hash(gen_key(seed, GEN_SALT_DEVICE_ATTR), i)};
	out->device_id_len = gen_device_id(seed, i, out->device_id);
	uint64_t roll = gen_next(&r);
	uint32_t x = (uint32_t)(roll % 1000);
	const struct gen_device_type *t = &gen_device_types[GEN_ARRAY_LEN(gen_device_types) - 1];
	for (size_t k = 0; k < GEN_ARRAY_LEN(gen_device_types); k++) {
		if (x < gen_device_types[k].weight) {
			t = &gen_device_types[k];
			break;
		}
		x -= gen_device_types[k].weight;
	}
	out->device_type = t->name;
	const struct gen_os *os = &t->os[t->os_count - 1];
	x = (uint32_t)((roll >> 20) % 1000);
	for (size_t k = 0; k < t->os_count; k++) {
		if (x < t->os[k].weight) {
			os = &t->os[k];
			break;
		}
		x -= t->os[k].weight;
	}
	out->os = os->name;
	const struct gen_browser_table *bt = &gen_browser_tables[os->browsers];
	out->browser = gen_pick_weighted(roll >> 40, bt->items, bt->count)->name;
}

void gen_url_row_fill(uint64_t seed, uint64_t i, struct gen_url_row *out)
{
	uint32_t d;
	out->url_len = gen_url_make(gen_key(seed, GEN_SALT_URL), i, false, out->url, &d);
	struct gen_buf b = {out->domain, 0, GEN_DOMAIN_MAX - 1, false};
	gen_domain_put(&b, d);
	out->domain[b.len] = '\0';
	out->domain_len = b.len;
	out->category = gen_domain_category(d);
}

size_t gen_date_format(int32_t days, char buf[GEN_DATE_MAX])
{
	int64_t y;
	unsigned m, d;
	civil_date_from_days(days, &y, &m, &d);
	if (y < 0)
		y = 0;
	if (y > 9999)
		y = 9999;
	struct gen_buf b = {buf, 0, GEN_DATE_MAX - 1, false};
	gen_put_fixed(&b, (uint64_t)y, 4);
	gen_putc(&b, '-');
	gen_put_fixed(&b, m, 2);
	gen_putc(&b, '-');
	gen_put_fixed(&b, d, 2);
	buf[b.len] = '\0';
	return b.len;
}

/* ---- events --------------------------------------------------------------------------------- */

static const char *const gen_malformed_names[GEN_MALFORMED_COUNT] = {
	[GEN_MALFORMED_NONE] = "ok",
	[GEN_MALFORMED_EMPTY] = "empty",
	[GEN_MALFORMED_SYNTAX] = "syntax",
	[GEN_MALFORMED_NOT_OBJECT] = "not_object",
	[GEN_MALFORMED_MISSING_FIELD] = "missing_field",
	[GEN_MALFORMED_WRONG_TYPE] = "wrong_type",
	[GEN_MALFORMED_OUT_OF_RANGE] = "out_of_range",
};

const char *gen_malformed_name(enum gen_malformed kind)
{
	if ((unsigned)kind >= GEN_MALFORMED_COUNT)
		return "unknown";
	return gen_malformed_names[kind];
}

#define GEN_DEFAULT_START_MS INT64_C(1735689600000) /* 2025-01-01T00:00:00Z */
#define GEN_TIME_MAX_MS INT64_C(253402300799999)     /* 9999-12-31T23:59:59.999Z */

void gen_event_config_default(struct gen_event_config *cfg)
{
	*cfg = (struct gen_event_config){
		.seed = 1,
		.count = 0,
		.users = 1000000,
		.devices = 1000000,
		.urls = 100000,
		.start_ms = GEN_DEFAULT_START_MS,
		.spread_ms = 3600000,
		.jitter_ms = 2000,
	};
}

static bool gen_share_ok(double p)
{
	return p >= 0.0 && p <= 1.0; /* false for NaN too */
}

int gen_event_config_check(const struct gen_event_config *cfg)
{
	if (!gen_share_ok(cfg->miss_users) || !gen_share_ok(cfg->miss_devices) ||
	    !gen_share_ok(cfg->miss_urls) || !gen_share_ok(cfg->malformed))
		return -EINVAL;
	if (!(cfg->skew >= 0.0 && cfg->skew <= 100.0))
		return -EINVAL;
	if (cfg->start_ms < 0 || cfg->spread_ms < 0 || cfg->jitter_ms < 0 ||
	    cfg->start_ms > GEN_TIME_MAX_MS || cfg->spread_ms > GEN_TIME_MAX_MS ||
	    cfg->jitter_ms > GEN_TIME_MAX_MS)
		return -EINVAL;
	return 0;
}

/* Index in [0, n) for n >= 1, uniform or skewed towards 0. */
static uint64_t gen_pick_index(struct gen_rng *r, uint64_t n, double skew)
{
	if (skew <= 0.0)
		return gen_below(r, n);
	double u = gen_unit(r);
	double x = u;
	/* u^(1+skew) without libm: integer part by multiplication, the rest approximated by a
	 * linear blend, which keeps the result monotone and in [0, 1). */
	double e = skew;
	while (e >= 1.0) {
		x *= u;
		e -= 1.0;
	}
	x = x * (1.0 - e) + x * u * e;
	uint64_t k = (uint64_t)(x * (double)n);
	return k < n ? k : n - 1;
}

static int64_t gen_event_base_ms(const struct gen_event_config *cfg, uint64_t seq)
{
	__extension__ typedef unsigned __int128 gen_u128;
	uint64_t per = cfg->count ? cfg->count : 1000000;
	gen_u128 off = (gen_u128)seq * (uint64_t)cfg->spread_ms / per;
	int64_t t = cfg->start_ms;
	if (off > (gen_u128)(GEN_TIME_MAX_MS - t))
		return GEN_TIME_MAX_MS;
	return t + (int64_t)off;
}

/* Field numbers, in the default order. */
enum gen_field { GEN_F_TIMESTAMP, GEN_F_USER, GEN_F_URL, GEN_F_DEVICE, GEN_F_COUNT };

static const char *const gen_field_names[GEN_F_COUNT] = {"timestamp", "user_id", "url",
							  "device_id"};
static const char *const gen_field_keys[GEN_F_COUNT] = {"\"timestamp\"", "\"user_id\"", "\"url\"",
							 "\"device_id\""};
static const size_t gen_field_key_lens[GEN_F_COUNT] = {11, 9, 5, 11};

/* How one field is rendered. */
enum gen_field_mode {
	GEN_FM_NORMAL,
	GEN_FM_OMIT,         /* not written */
	GEN_FM_RAW,          /* value is the literal raw text */
	GEN_FM_NO_COLON,     /* "key" value */
	GEN_FM_UNQUOTED_KEY, /* key: value */
};

struct gen_field_plan {
	enum gen_field_mode mode;
	const char *raw;
};

/* Extra fields an event may carry; a decoder must skip them whole. */
struct gen_lit {
	const char *s;
	size_t n;
};

#define GEN_LIT(x) {x, sizeof(x) - 1}

static const struct gen_lit gen_extras[] = {
	GEN_LIT("\"session_id\":\"s-7f3a9c21\""),
	GEN_LIT("\"ua\":\"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
		"(KHTML, like Gecko) Chrome/124.0 Safari/537.36\""),
	GEN_LIT("\"ref\":null"),
	GEN_LIT("\"props\":{\"a\":[1,2.5,-3e-2,{\"b\":\"x\\\"y}\"}],\"c\":true,\"d\":{},\"e\":[]}"),
	GEN_LIT("\"n\":-12.5E+3"),
	GEN_LIT("\"tags\":[\"user_id\",\"url\",\"timestamp\"]"),
	GEN_LIT("\"user\":{\"user_id\":1,\"url\":\"https://nested.example/\"}"),
	GEN_LIT("\"urls\":\"https://other.example/\""),
	GEN_LIT("\"timestamp_ms\":0"),
	GEN_LIT("\"device\":\"dev-0000000000000000\""),
	GEN_LIT("\"empty\":\"\""),
	GEN_LIT("\"esc\":\"\\u00e9\\ud83d\\ude80\\\\\\/\\b\\f\\n\\r\\t\\\"\""),
	GEN_LIT("\"big\":123456789012345678901234567890"),
	GEN_LIT("\"deep\":[[[[[[[[{\"a\":[[[]]],\"b\":{\"c\":{\"d\":false}}}]]]]]]]]"),
	GEN_LIT("\"\\u0075ser_id_alt\":42"),
	GEN_LIT("\"f\":0.000001e-300"),
};

/* gen_json_object steps through the extras by 5: their count must be coprime with 5. */
_Static_assert(GEN_ARRAY_LEN(gen_extras) % 5 != 0, "extras count must be coprime with 5");

static const int gen_utc_offsets_min[] = {
	0, 60, 120, -300, -480, 330, 345, 540, -210, 840, -720, 525, -570, 180, -60,
};

struct gen_event_ctx {
	struct gen_rng *r;
	bool variety;
	bool spacey;
};

static inline void gen_ws(struct gen_buf *b, const struct gen_event_ctx *c)
{
	if (!c->spacey)
		return;
	static const char *const ws[] = {"", " ", "  ", "\t", " \t "};
	gen_puts(b, ws[gen_below(c->r, GEN_ARRAY_LEN(ws))]);
}

static void gen_put_hex4(struct gen_buf *b, unsigned v, bool upper)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char h[6] = {'\\', 'u', digits[(v >> 12) & 15], digits[(v >> 8) & 15], digits[(v >> 4) & 15],
		     digits[v & 15]};
	gen_put(b, h, 6);
}

/* Length of the UTF-8 sequence starting with byte c (our strings are valid UTF-8). */
static size_t gen_utf8_len(unsigned char c)
{
	if (c < 0x80)
		return 1;
	if (c >= 0xf0)
		return 4;
	if (c >= 0xe0)
		return 3;
	return 2;
}

static unsigned gen_utf8_decode(const unsigned char *s, size_t n)
{
	switch (n) {
	case 1: return s[0];
	case 2: return ((s[0] & 0x1fu) << 6) | (s[1] & 0x3fu);
	case 3: return ((s[0] & 0x0fu) << 12) | ((s[1] & 0x3fu) << 6) | (s[2] & 0x3fu);
	default:
		return ((s[0] & 0x07u) << 18) | ((s[1] & 0x3fu) << 12) | ((s[2] & 0x3fu) << 6) |
		       (s[3] & 0x3fu);
	}
}

/*
 * Writes s as a JSON string. Plain: only the escapes JSON requires. Varied (escape_rate > 0):
 * each character may instead be written as \uXXXX (surrogate pairs above U+FFFF), '/' as \/,
 * '"' and '\\' as \u0022 and \u005c.
 */
static void gen_json_string(struct gen_buf *b, struct gen_rng *r, const char *s, size_t len,
			    unsigned escape_rate)
{
	const unsigned char *p = (const unsigned char *)s;
	gen_putc(b, '"');
	if (escape_rate == 0) {
		/* Plain: copy runs of bytes that need no escape at once. */
		size_t run = 0;
		for (size_t k = 0; k < len; k++) {
			unsigned char c = p[k];
			if (c >= 0x20 && c != '"' && c != '\\')
				continue;
			gen_put(b, p + run, k - run);
			if (c < 0x20) {
				gen_put_hex4(b, c, false);
			} else {
				gen_putc(b, '\\');
				gen_putc(b, (char)c);
			}
			run = k + 1;
		}
		gen_put(b, p + run, len - run);
		gen_putc(b, '"');
		return;
	}
	for (size_t k = 0; k < len && !b->overflow;) {
		size_t n = gen_utf8_len(p[k]);
		if (n > len - k)
			n = len - k;
		unsigned cp = gen_utf8_decode(p + k, n);
		bool esc = escape_rate && gen_below(r, 256) < escape_rate;
		bool upper = escape_rate && (gen_next(r) & 1);
		if (cp < 0x20) {
			gen_put_hex4(b, cp, upper);
		} else if (cp == '"' || cp == '\\') {
			if (esc) {
				gen_put_hex4(b, cp, upper);
			} else {
				gen_putc(b, '\\');
				gen_putc(b, (char)cp);
			}
		} else if (!esc) {
			gen_put(b, p + k, n);
		} else if (cp == '/' && (gen_next(r) & 1)) {
			gen_puts(b, "\\/");
		} else if (cp >= 0x10000) {
			unsigned v = cp - 0x10000;
			gen_put_hex4(b, 0xd800 + (v >> 10), upper);
			gen_put_hex4(b, 0xdc00 + (v & 0x3ff), upper);
		} else {
			gen_put_hex4(b, cp, upper);
		}
		k += n;
	}
	gen_putc(b, '"');
}

/*
 * Writes the timestamp of t_ms and returns the time a decoder must read back from it: exact
 * for epoch ms and for 3+ fraction digits (extra digits are noise below the millisecond), else
 * truncated to the precision written.
 */
static int64_t gen_json_timestamp(struct gen_buf *b, const struct gen_event_ctx *c, int64_t t_ms)
{
	struct gen_rng *r = c->r;
	unsigned style = c->variety ? (unsigned)gen_below(r, 8) : 7;
	if (style < 2) {
		gen_put_u64(b, (uint64_t)t_ms);
		return t_ms;
	}
	int offset_min = 0;
	int frac_digits = 3;
	if (c->variety) {
		static const int digits[] = {0, 1, 2, 3, 3, 3, 6, 9};
		frac_digits = digits[gen_below(r, GEN_ARRAY_LEN(digits))];
		if (style >= 4)
			offset_min = gen_utc_offsets_min[gen_below(r, GEN_ARRAY_LEN(gen_utc_offsets_min))];
	}
	int64_t unit = frac_digits >= 3 ? 1 : (frac_digits == 2 ? 10 : (frac_digits == 1 ? 100 : 1000));
	int64_t t = t_ms - t_ms % unit;
	int64_t local = t + (int64_t)offset_min * 60000;
	if (local < 0 || local > GEN_TIME_MAX_MS) { /* keep the written year in 1970-9999 */
		offset_min = 0;
		local = t;
	}
	int64_t days = local / 86400000;
	int64_t ms_of_day = local % 86400000;
	int64_t y;
	unsigned mo, d;
	civil_date_from_days(days, &y, &mo, &d);
	/* "YYYY-MM-DDTHH:MM:SS" built in place, then written at once. */
	char dt[21] = "\"0000-00-00T00:00:00";
	gen_fmt_digits(dt + 1, (unsigned)y, 4);
	gen_fmt_digits(dt + 6, mo, 2);
	gen_fmt_digits(dt + 9, d, 2);
	gen_fmt_digits(dt + 12, (unsigned)(ms_of_day / 3600000), 2);
	gen_fmt_digits(dt + 15, (unsigned)(ms_of_day / 60000 % 60), 2);
	gen_fmt_digits(dt + 18, (unsigned)(ms_of_day / 1000 % 60), 2);
	gen_put(b, dt, 20);
	if (frac_digits > 0) {
		gen_putc(b, '.');
		uint64_t ms = (uint64_t)(ms_of_day % 1000);
		if (frac_digits < 3) {
			gen_put_fixed(b, ms / (uint64_t)unit, frac_digits);
		} else {
			gen_put_fixed(b, ms, 3);
			if (frac_digits > 3)
				gen_put_fixed(b, gen_below(r, frac_digits == 6 ? 1000 : 1000000),
					      frac_digits - 3);
		}
	}
	if (offset_min == 0 && (!c->variety || (gen_next(r) & 1))) {
		gen_putc(b, 'Z');
	} else {
		int a = offset_min < 0 ? -offset_min : offset_min;
		gen_putc(b, offset_min < 0 ? '-' : '+');
		gen_put_fixed(b, (uint64_t)(a / 60), 2);
		gen_putc(b, ':');
		gen_put_fixed(b, (uint64_t)(a % 60), 2);
	}
	gen_putc(b, '"');
	return t;
}

static void gen_json_value(struct gen_buf *b, const struct gen_event_ctx *c, enum gen_field f,
			   struct gen_event *ev, int64_t t_ms)
{
	struct gen_rng *r = c->r;
	switch (f) {
	case GEN_F_TIMESTAMP:
		ev->event_time_ms = gen_json_timestamp(b, c, t_ms);
		break;
	case GEN_F_USER:
		if (c->variety && gen_below(r, 3) == 0) {
			gen_putc(b, '"');
			gen_put_u64(b, ev->user_id);
			gen_putc(b, '"');
		} else {
			gen_put_u64(b, ev->user_id);
		}
		break;
	case GEN_F_URL:
		gen_json_string(b, r, ev->url, ev->url_len,
				c->variety && gen_below(r, 4) == 0 ? 96 : 0);
		break;
	case GEN_F_DEVICE:
		if (c->variety && ev->device_id[0] != 'd' && (gen_next(r) & 1))
			gen_put(b, ev->device_id, ev->device_id_len); /* numeric id as an integer */
		else
			gen_json_string(b, r, ev->device_id, ev->device_id_len,
					c->variety && gen_below(r, 8) == 0 ? 48 : 0);
		break;
	default:
		break;
	}
}

/*
 * Writes the event object with the fields planned in plan[]; returns the offset of the final
 * '}' (for truncation). skip_comma_before >= 0 drops the comma before that item; trailing_comma
 * adds one after the last item.
 */
static size_t gen_json_object(struct gen_buf *b, const struct gen_event_ctx *c,
			      const struct gen_field_plan plan[GEN_F_COUNT], struct gen_event *ev,
			      int64_t t_ms, int skip_comma_before, bool trailing_comma)
{
	struct gen_rng *r = c->r;
	/* Items: fields 0-3 and extras 4+; at most 4 fields and 3 extras. */
	int items[GEN_F_COUNT + 3];
	int n = 0;
	for (int f = 0; f < GEN_F_COUNT; f++)
		items[n++] = f;
	if (c->variety) {
		for (int k = n - 1; k > 0; k--) {
			int j = (int)gen_below(r, (uint64_t)k + 1);
			int tmp = items[k];
			items[k] = items[j];
			items[j] = tmp;
		}
		/* Up to 3 distinct extras: a step coprime with their count never repeats one. */
		int extras = (int)gen_below(r, 4);
		uint64_t first = gen_below(r, GEN_ARRAY_LEN(gen_extras));
		for (int e = 0; e < extras; e++) {
			int pos = (int)gen_below(r, (uint64_t)n + 1);
			memmove(&items[pos + 1], &items[pos], (size_t)(n - pos) * sizeof(items[0]));
			items[pos] = GEN_F_COUNT +
				     (int)((first + 5 * (uint64_t)e) % GEN_ARRAY_LEN(gen_extras));
			n++;
		}
	}
	gen_ws(b, c);
	gen_putc(b, '{');
	int written = 0;
	for (int k = 0; k < n; k++) {
		int it = items[k];
		if (it < GEN_F_COUNT && plan[it].mode == GEN_FM_OMIT)
			continue;
		if (written > 0 && written != skip_comma_before) {
			gen_ws(b, c);
			gen_putc(b, ',');
		}
		gen_ws(b, c);
		if (it >= GEN_F_COUNT) {
			const struct gen_lit *x = &gen_extras[it - GEN_F_COUNT];
			gen_put(b, x->s, x->n);
		} else {
			const struct gen_field_plan *p = &plan[it];
			if (p->mode == GEN_FM_UNQUOTED_KEY)
				gen_puts(b, gen_field_names[it]);
			else
				gen_put(b, gen_field_keys[it], gen_field_key_lens[it]);
			gen_ws(b, c);
			if (p->mode != GEN_FM_NO_COLON)
				gen_putc(b, ':');
			else
				gen_putc(b, ' ');
			gen_ws(b, c);
			if (p->mode == GEN_FM_RAW)
				gen_puts(b, p->raw);
			else
				gen_json_value(b, c, (enum gen_field)it, ev, t_ms);
		}
		written++;
	}
	if (trailing_comma)
		gen_putc(b, ',');
	gen_ws(b, c);
	size_t close = b->len;
	gen_putc(b, '}');
	gen_ws(b, c);
	return close;
}

static const char *const gen_bad_timestamp_type[] = {
	"true", "null", "\"yesterday\"", "[]", "{}", "false", "[1735689600000]",
};
static const char *const gen_bad_user_type[] = {
	"true", "null", "1.5", "\"abc\"", "\"\"", "[1]", "{\"id\":1}", "\"12a\"", "false",
};
static const char *const gen_bad_url_type[] = {
	"42", "null", "true", "[]", "{\"href\":\"https://a.example/\"}", "false",
};
static const char *const gen_bad_device_type[] = {
	"true", "null", "[]", "{}", "false", "[\"dev-1\"]",
};
static const char *const gen_bad_timestamp_range[] = {
	"100000000000000000000", "9223372036854775808", "-9223372036854775809",
	"\"2025-13-01T00:00:00Z\"", "\"2025-02-29T12:00:00Z\"", "\"2025-04-31T00:00:00Z\"",
	"\"2025-01-01T25:00:00Z\"", "\"2025-01-01T12:60:00Z\"", "\"2025-01-01T00:00:00+24:00\"",
	"\"2025-00-10T00:00:00Z\"",
};
static const char *const gen_bad_user_range[] = {
	"18446744073709551616", "99999999999999999999", "-1", "\"18446744073709551616\"",
	"\"-1\"", "340282366920938463463374607431768211456",
};
static const char *const gen_bad_literals[] = {"tru", "nul", "1.", "0x10", "+1", "01", "-", "fals"};
static const char *const gen_not_objects[] = {"[]", "null", "42", "\"event\"", "true", "[{}]"};

/* Builds a malformed payload of the given kind into b. */
/* A payload that is not JSON (or not all of it), its field f spoiled if one is. */
static void gen_malformed_syntax(struct gen_buf *b, struct gen_event_ctx *c, struct gen_event *ev,
				 int64_t t_ms, struct gen_field_plan *plan, enum gen_field f)
{
	struct gen_rng *r = c->r;
	switch (gen_below(r, 10)) {
	case 0: { /* truncated before the closing brace */
		size_t close = gen_json_object(b, c, plan, ev, t_ms, -1, false);
		b->len = 1 + (size_t)gen_below(r, close > 1 ? close - 1 : 1);
		return;
	}
	case 1: { /* trailing bytes after the object */
		static const char *const tails[] = {"x", "}", ",", "{}", "]", "\"", "0"};
		gen_json_object(b, c, plan, ev, t_ms, -1, false);
		gen_puts(b, gen_pick(r, tails, GEN_ARRAY_LEN(tails)));
		return;
	}
	case 2: /* single quotes instead of double quotes */
		gen_json_object(b, c, plan, ev, t_ms, -1, false);
		for (size_t k = 0; k < b->len; k++)
			if (b->p[k] == '"')
				b->p[k] = '\'';
		return;
	case 3: /* invalid escape in a string */
		plan[GEN_F_URL].mode = GEN_FM_RAW;
		plan[GEN_F_URL].raw = gen_next(r) & 1 ? "\"https://bad.example/a\\qb\""
						      : "\"https://bad.example/\\u12G4\"";
		break;
	case 4: /* unterminated string */
		plan[f].mode = GEN_FM_RAW;
		plan[f].raw = "\"unterminated";
		break;
	case 5:
		plan[f].mode = GEN_FM_NO_COLON;
		break;
	case 6:
		plan[f].mode = GEN_FM_UNQUOTED_KEY;
		break;
	case 7: /* a bad literal */
		plan[f].mode = GEN_FM_RAW;
		plan[f].raw = gen_pick(r, gen_bad_literals, GEN_ARRAY_LEN(gen_bad_literals));
		break;
	case 8: /* whitespace only, or a missing comma */
		if (gen_next(r) & 1) {
			gen_puts(b, "   ");
			return;
		}
		gen_json_object(b, c, plan, ev, t_ms, 1 + (int)gen_below(r, 3), false);
		return;
	default: /* trailing comma */
		gen_json_object(b, c, plan, ev, t_ms, -1, true);
		return;
	}
	gen_json_object(b, c, plan, ev, t_ms, -1, false);
}

/* Field f as a JSON value of the wrong type, or a timestamp or user_id out of range. */
static void gen_malformed_value(struct gen_rng *r, struct gen_field_plan *plan, enum gen_field f,
				enum gen_malformed kind)
{
	static const struct {
		const char *const *v;
		size_t n;
	} bad[GEN_F_COUNT] = {
		{gen_bad_timestamp_type, GEN_ARRAY_LEN(gen_bad_timestamp_type)},
		{gen_bad_user_type, GEN_ARRAY_LEN(gen_bad_user_type)},
		{gen_bad_url_type, GEN_ARRAY_LEN(gen_bad_url_type)},
		{gen_bad_device_type, GEN_ARRAY_LEN(gen_bad_device_type)},
	};
	if (kind == GEN_MALFORMED_WRONG_TYPE) {
		plan[f].mode = GEN_FM_RAW;
		plan[f].raw = gen_pick(r, bad[f].v, bad[f].n);
	} else if (gen_next(r) & 1) {
		plan[GEN_F_TIMESTAMP].mode = GEN_FM_RAW;
		plan[GEN_F_TIMESTAMP].raw = gen_pick(r, gen_bad_timestamp_range,
						     GEN_ARRAY_LEN(gen_bad_timestamp_range));
	} else {
		plan[GEN_F_USER].mode = GEN_FM_RAW;
		plan[GEN_F_USER].raw = gen_pick(r, gen_bad_user_range, GEN_ARRAY_LEN(gen_bad_user_range));
	}
}

static void gen_malformed_payload(struct gen_buf *b, struct gen_event_ctx *c, struct gen_event *ev,
				  int64_t t_ms, enum gen_malformed kind)
{
	struct gen_rng *r = c->r;
	struct gen_field_plan plan[GEN_F_COUNT] = {{GEN_FM_NORMAL, NULL}};
	enum gen_field f = (enum gen_field)gen_below(r, GEN_F_COUNT);
	switch (kind) {
	case GEN_MALFORMED_EMPTY:
		return;
	case GEN_MALFORMED_NOT_OBJECT:
		if (gen_below(r, 2) == 0) { /* a valid event wrapped in an array */
			gen_putc(b, '[');
			gen_json_object(b, c, plan, ev, t_ms, -1, false);
			gen_putc(b, ']');
		} else {
			gen_puts(b, gen_pick(r, gen_not_objects, GEN_ARRAY_LEN(gen_not_objects)));
		}
		return;
	case GEN_MALFORMED_MISSING_FIELD:
		plan[f].mode = GEN_FM_OMIT;
		gen_json_object(b, c, plan, ev, t_ms, -1, false);
		return;
	case GEN_MALFORMED_WRONG_TYPE:
	case GEN_MALFORMED_OUT_OF_RANGE:
		gen_malformed_value(r, plan, f, kind);
		gen_json_object(b, c, plan, ev, t_ms, -1, false);
		return;
	default:
		gen_malformed_syntax(b, c, ev, t_ms, plan, f);
		return;
	}
}

#define GEN_MISSING_RANGE (UINT64_C(1) << 20)

void gen_event_make(const struct gen_event_config *cfg, uint64_t seq, struct gen_event *ev)
{
	uint64_t seed = cfg->seed;
	struct gen_rng r = {gen_hash(gen_key(seed, GEN_SALT_EVENT), seq)};
	ev->seq = seq;
	ev->malformed = GEN_MALFORMED_NONE;
	if (cfg->malformed > 0.0 && gen_chance(&r, cfg->malformed))
		ev->malformed = (enum gen_malformed)(1 + gen_below(&r, GEN_MALFORMED_COUNT - 1));

	/* Keys: missing ones are drawn from as many indexes as present ones, so they repeat as
	 * much (from GEN_MISSING_RANGE indexes for an empty dimension). */
	uint64_t n = cfg->users;
	ev->user_present = n > 0 && !gen_chance(&r, cfg->miss_users);
	uint64_t k = gen_pick_index(&r, n ? n : GEN_MISSING_RANGE, cfg->skew);
	ev->user_id = ev->user_present ? gen_user_id(seed, k) : gen_user_id_missing(seed, k);

	n = cfg->devices;
	ev->device_present = n > 0 && !gen_chance(&r, cfg->miss_devices);
	k = gen_pick_index(&r, n ? n : GEN_MISSING_RANGE, cfg->skew);
	ev->device_id_len = ev->device_present ? gen_device_id(seed, k, ev->device_id)
					       : gen_device_id_missing(seed, k, ev->device_id);

	n = cfg->urls;
	ev->url_present = n > 0 && !gen_chance(&r, cfg->miss_urls);
	k = gen_pick_index(&r, n ? n : GEN_MISSING_RANGE, cfg->skew);
	ev->url_len = ev->url_present ? gen_url(seed, k, ev->url) : gen_url_missing(seed, k, ev->url);

	int64_t t = gen_event_base_ms(cfg, seq);
	if (cfg->jitter_ms > 0) {
		int64_t j = (int64_t)gen_below(&r, (uint64_t)cfg->jitter_ms + 1);
		t = t > j ? t - j : 0;
	}
	ev->event_time_ms = t;

	struct gen_event_ctx c = {&r, cfg->variety, cfg->variety && gen_below(&r, 4) == 0};
	struct gen_buf b = {ev->payload, 0, GEN_EVENT_PAYLOAD_MAX, false};
	if (ev->malformed == GEN_MALFORMED_NONE) {
		static const struct gen_field_plan plan[GEN_F_COUNT] = {{GEN_FM_NORMAL, NULL}};
		gen_json_object(&b, &c, plan, ev, t, -1, false);
	} else {
		gen_malformed_payload(&b, &c, ev, t, ev->malformed);
	}
	/* Sizes are bounded well below the buffer (url <= 255 bytes, 12 escaped bytes per 4-byte
	 * character, extras < 200 bytes each); an overflow would be a bug here. */
	if (b.overflow)
		b.len = 0;
	ev->payload_len = b.len;
}

/* ---- buffered output ------------------------------------------------------------------------ */

#define GEN_WRITER_MIN_BYTES (64u * 1024)

int gen_writer_open(struct gen_writer *w, const char *path, size_t buf_bytes)
{
	*w = (struct gen_writer){.fd = -1};
	if (buf_bytes < GEN_WRITER_MIN_BYTES)
		buf_bytes = GEN_WRITER_MIN_BYTES;
	w->buf = malloc(buf_bytes);
	if (!w->buf)
		return -ENOMEM;
	w->cap = buf_bytes;
	if (strcmp(path, "-") == 0) {
		w->fd = STDOUT_FILENO;
		return 0;
	}
	w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (w->fd < 0) {
		int err = -errno;
		free(w->buf);
		w->buf = NULL;
		return err;
	}
	w->owns_fd = true;
	return 0;
}

int gen_writer_flush(struct gen_writer *w)
{
	size_t done = 0;
	while (w->err == 0 && done < w->len) {
		ssize_t n = write(w->fd, w->buf + done, w->len - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			w->err = -errno;
			break;
		}
		done += (size_t)n;
	}
	w->bytes += done;
	w->len = 0;
	return w->err;
}

int gen_writer_close(struct gen_writer *w, bool sync)
{
	gen_writer_flush(w);
	if (w->owns_fd) {
		if (sync && w->err == 0 && fsync(w->fd) != 0)
			w->err = -errno;
		if (close(w->fd) != 0 && w->err == 0)
			w->err = -errno;
	}
	free(w->buf);
	w->buf = NULL;
	w->fd = -1;
	return w->err;
}


void gen_writer_put_u64(struct gen_writer *w, uint64_t v)
{
	char tmp[20];
	char *p = gen_u64_to_digits(v, tmp);
	gen_writer_put(w, p, (size_t)(tmp + 20 - p));
}

void gen_writer_put_i64(struct gen_writer *w, int64_t v)
{
	if (v < 0) {
		gen_writer_putc(w, '-');
		gen_writer_put_u64(w, (uint64_t)0 - (uint64_t)v);
		return;
	}
	gen_writer_put_u64(w, (uint64_t)v);
}

void gen_writer_put_tsv_escaped(struct gen_writer *w, const char *s, size_t n)
{
	size_t run = 0; /* start of the pending run of bytes that need no escape */
	for (size_t k = 0; k < n; k++) {
		char e = tsv_escape_letter((unsigned char)s[k], 0);
		if (!e)
			continue;
		gen_writer_put(w, s + run, k - run);
		gen_writer_putc(w, '\\');
		gen_writer_putc(w, e);
		run = k + 1;
	}
	gen_writer_put(w, s + run, n - run);
}

void gen_writer_put_csv(struct gen_writer *w, const char *s, size_t n)
{
	gen_writer_putc(w, '"');
	size_t run = 0;
	for (size_t k = 0; k < n; k++) {
		if (s[k] != '"')
			continue;
		gen_writer_put(w, s + run, k + 1 - run); /* up to and including the quote */
		gen_writer_putc(w, '"');
		run = k + 1;
	}
	gen_writer_put(w, s + run, n - run);
	gen_writer_putc(w, '"');
}

/* ---- the generator programs' options ---- */

int gen_arg_u64(const char *prog, const char *opt, const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v > max) {
		log_error(prog, "%s: invalid value '%s' (an integer up to %" PRIu64 ")", opt, s, max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int gen_usage_end(void (*usage)(FILE *), int opt)
{
	usage(opt == 'h' ? stdout : stderr);
	return opt == 'h' ? 0 : 2;
}
