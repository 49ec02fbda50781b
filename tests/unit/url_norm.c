#include <criterion/criterion.h>
#include <string.h>

#include "url_norm.h"

static void expect_norm(const char *in, const char *want)
{
	char out[256];
	size_t n = url_norm_strip_query(in, strlen(in), out, sizeof(out));
	out[n] = '\0';
	cr_expect_str_eq(out, want, "normalising '%s'", in);
}

Test(url_norm, strips_query_and_fragment_and_lowercases_host)
{
	expect_norm("HTTPS://Example.COM/Path/To?q=1#frag", "https://example.com/Path/To");
	expect_norm("https://example.com/a#b?c", "https://example.com/a");
	expect_norm("https://EXAMPLE.com", "https://example.com");
	expect_norm("https://EXAMPLE.com?x", "https://example.com");
	expect_norm("http://User@Host:8080/P", "http://user@host:8080/P");
	expect_norm("/Relative/Path?x=1", "/Relative/Path");
	expect_norm("", "");
	expect_norm("?only", "");
	expect_norm("not a url: //X", "not a url: //X");
}

Test(url_norm, in_place)
{
	char buf[] = "HTTP://A.B/C?D";
	size_t n = url_norm_strip_query(buf, strlen(buf), buf, sizeof(buf));
	cr_expect_eq(n, 12);
	cr_expect_eq(memcmp(buf, "http://a.b/C", n), 0);
}
