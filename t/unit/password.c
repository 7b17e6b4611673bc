#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "password.h"
#include "tap.h"

static const unsigned char *script;
static size_t script_len, script_pos;

/* A scripted random source for the rejection tests. */
static int
scripted(unsigned char *buf, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		if (script_pos >= script_len)
			return 0;
		buf[i] = script[script_pos++];
	}
	return 1;
}

static bool
all_in(const char *s, const char *alphabet)
{
	for (; *s; s++)
		if (strchr(alphabet, *s) == NULL)
			return false;
	return true;
}

static bool
has_any(const char *s, const char *set)
{
	return strpbrk(s, set) != NULL;
}

int
main(void)
{
	static const char lower[] = "abcdefghijklmnopqrstuvwxyz";
	static const char upper[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
	static const char digits[] = "0123456789";
	static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP"
	    "QRSTUVWXYZ0123456789";
	static const char safe[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP"
	    "QRSTUVWXYZ0123456789-_.~";
	struct password_policy pol;
	struct api_password_config pc;
	char err[200], *pw;
	unsigned idx;
	int i, bad;

	/* defaults: no passwordSecret block */
	password_policy_from_config(NULL, &pol);
	is_int(pol.length, 32, "default length 32");
	ok(pol.special, "special characters on without a block (original)");
	pw = password_generate(&pol, err, sizeof(err));
	ok(pw != NULL, "generated");
	is_int(strlen(pw), 32, "32 characters");
	ok(all_in(pw, safe), "only letters, digits and URI-safe specials");
	free_secret(pw);

	/* from a block */
	memset(&pc, 0, sizeof(pc));
	pc.set = true;
	pc.length = 8;
	pc.include_special_chars = false;
	password_policy_from_config(&pc, &pol);
	for (i = 0, bad = 0; i < 2000; i++) {
		pw = password_generate(&pol, err, sizeof(err));
		if (pw == NULL || strlen(pw) != 8 || !all_in(pw, alnum) ||
		    !has_any(pw, lower) || !has_any(pw, upper) ||
		    !has_any(pw, digits))
			bad++;
		free_secret(pw);
	}
	is_int(bad, 0, "length 8 without specials: alphanumeric, one of each "
	    "class every time (2000 draws)");
	pc.include_special_chars = true;
	pc.length = 128;
	pc.exclude_chars = "aeiouAEIOU01~";
	password_policy_from_config(&pc, &pol);
	for (i = 0, bad = 0; i < 500; i++) {
		pw = password_generate(&pol, err, sizeof(err));
		if (pw == NULL || strlen(pw) != 128 || !all_in(pw, safe) ||
		    has_any(pw, "aeiouAEIOU01~") || !has_any(pw, "-_."))
			bad++;
		free_secret(pw);
	}
	is_int(bad, 0, "length 128, exclusions honoured, a special every time");

	/* the original's special set when asked for */
	pol.special_set = PASSWORD_SPECIAL_ORIGINAL;
	pol.exclude = NULL;
	pol.length = 16;
	for (i = 0, bad = 0; i < 500; i++) {
		pw = password_generate(&pol, err, sizeof(err));
		if (pw == NULL || !has_any(pw, "!@#$%^&*"))
			bad++;
		free_secret(pw);
	}
	is_int(bad, 0, "original set used when asked for");

	/* exclusions that empty a class drop the class */
	memset(&pol, 0, sizeof(pol));
	pol.length = 12;
	pol.exclude = digits;
	pw = password_generate(&pol, err, sizeof(err));
	ok(pw && !has_any(pw, digits) && has_any(pw, lower) &&
	    has_any(pw, upper), "all digits excluded: letters only");
	free_secret(pw);
	pol.exclude = alnum;
	pol.special = false;
	pw = password_generate(&pol, err, sizeof(err));
	ok(pw == NULL && strstr(err, "spec.passwordSecret.excludeChars"),
	    "everything excluded: an error naming the field, no fallback");
	pol.special = true;
	pw = password_generate(&pol, err, sizeof(err));
	ok(pw && all_in(pw, "-_.~"), "only specials left: used");
	free_secret(pw);
	memset(&pol, 0, sizeof(pol));
	pol.length = 3;
	pol.special = true;
	pw = password_generate(&pol, err, sizeof(err));
	ok(pw == NULL && strstr(err, "too short"), "length below the number of "
	    "classes refused");
	pol.length = PASSWORD_MAX_LENGTH + 1;
	pw = password_generate(&pol, err, sizeof(err));
	ok(pw == NULL && strstr(err, "length"), "too long refused");

	/* no modulo bias: counts over many draws */
	{
		long counts[66] = { 0 };
		const long draws = 66 * 3000;
		long min = draws, max = 0;

		for (i = 0; i < draws; i++) {
			if (password_uniform(66, &idx) < 0 || idx >= 66)
				break;
			counts[idx]++;
		}
		is_int(i, draws, "uniform draws");
		for (i = 0; i < 66; i++) {
			if (counts[i] < min)
				min = counts[i];
			if (counts[i] > max)
				max = counts[i];
		}
		ok(min > 3000 * 8 / 10 && max < 3000 * 12 / 10,
		    "every value within 20% of its expected count");
		if (!(min > 2400 && max < 3600))
			diag("min %ld max %ld", min, max);
	}
	{
		long counts[256] = { 0 };
		size_t k;

		memset(&pol, 0, sizeof(pol));
		pol.length = 64;
		pol.special = true;
		for (i = 0; i < 3000; i++) {
			pw = password_generate(&pol, err, sizeof(err));
			if (pw == NULL)
				break;
			for (k = 0; pw[k]; k++)
				counts[(unsigned char)pw[k]]++;
			free_secret(pw);
		}
		bad = 0;
		/* 192000 characters over 66: about 2909 each */
		for (k = 0; k < sizeof(safe) - 1; k++)
			if (counts[(unsigned char)safe[k]] < 2200 ||
			    counts[(unsigned char)safe[k]] > 3700)
				bad++;
		is_int(bad, 0, "character frequencies in generated passwords "
		    "are even");
	}

	/* rejection sampling, deterministically */
	{
		static const unsigned char bytes[] = { 255, 248, 247, 0, 62 };

		password_set_rand(scripted);
		script = bytes;
		script_len = sizeof(bytes);
		script_pos = 0;
		ok(password_uniform(62, &idx) == 0, "draw");
		is_int(idx, 247 % 62, "255 and 248 rejected for n = 62 (248 is "
		    "the largest multiple of 62 below 256)");
		is_int(script_pos, 3, "three bytes consumed");
		ok(password_uniform(62, &idx) == 0 && idx == 0, "0 maps to 0");
		ok(password_uniform(62, &idx) == 0 && idx == 0, "62 maps to 0");
		ok(password_uniform(62, &idx) < 0, "exhausted source fails");
		memset(&pol, 0, sizeof(pol));
		script_pos = 0;
		pw = password_generate(&pol, err, sizeof(err));
		ok(pw == NULL && strstr(err, "random"), "generator failure "
		    "reported, no password");
		script = (const unsigned char *)"\x00\x01";
		script_len = 2;
		script_pos = 0;
		ok(password_uniform(1, &idx) == 0 && idx == 0, "n = 1");
		ok(password_uniform(0, &idx) < 0, "n = 0 refused");
		ok(password_uniform(257, &idx) < 0, "n > 256 refused");
		password_set_rand(NULL);
	}
	return done_testing();
}
