/* store.c -- placeholder until the LMDB store lands. */
#include <errno.h>
#include <stdio.h>

#include "rr/store.h"

int rr_store_open(struct rr_store **out, const struct rr_store_opts *opts, char *why, size_t whylen)
{
    *out = NULL;
    return -ENOSYS;
}
