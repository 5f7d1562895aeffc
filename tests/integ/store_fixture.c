/* store_fixture.c -- Writes the store files the integration tests show: a sample recording,
 * and the damaged, foreign and newer files rrload must refuse with one line.
 *
 * usage: store_fixture sample|damaged|newrecord|foreign|emptylmdb|newer PATH */
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../store/store_int.h"
#include "rr/store.h"
#include "rr/util.h"

static struct rr_view V(const char *s) {
    return rr_view_of(s, strlen(s));
}

static int
die(const char *what, int rc)
{
    fprintf(stderr, "store_fixture: %s: %s\n", what, rr_strerror(rc));
    return 1;
}

static int sample(const char *path)
{
    struct rr_store_opts o = {.path = path, .create = 1};
    struct rr_store *s = NULL;
    char why[256];
    int rc = rr_store_open(&s, &o, why, sizeof(why));
    if (rc) {
        fprintf(stderr, "store_fixture: %s: %s\n", path, why);
        return 1;
    }
    struct rr_conn c1 = {.proto = RR_PROTO_H1,
                         .ip_version = 4,
                         .client_ip = {127, 0, 0, 1},
                         .server_ip = {127, 0, 0, 1},
                         .client_port = 40000,
                         .server_port = 8080,
                         .flags = RR_CF_FIN,
                         .t_first_us = 1764201600000000ull,
                         .t_last_us = 1764201601000000ull};
    struct rr_conn c2 = {.proto = RR_PROTO_H2,
                         .ip_version = 6,
                         .client_port = 40001,
                         .server_port = 8443,
                         .flags = RR_CF_MIDSTREAM | RR_CF_RST,
                         .t_first_us = 1764201600500000ull,
                         .t_last_us = 1764201602000000ull};
    c2.client_ip[15] = 1;
    c2.server_ip[15] = 1;
    if ((rc = rr_store_conn_put(s, &c1)) || (rc = rr_store_conn_put(s, &c2)))
        return die("conn", rc);

    static const char login[] = "{\"user\":\"alice\",\"password\":\"pw\"}";
    static const char token[] = "{\"token\":\"abc123\"}";
    struct rr_header req_h[] = {{V("Host"), V("127.0.0.1:8080")},
                                {V("Content-Type"), V("application/json")}};
    struct rr_header resp_h[] = {{V("Content-Type"), V("application/json")},
                                 {V("Set-Cookie"), V("sid=1; Path=/")}};
    for (unsigned i = 0; i < 5; i++) {
        struct rr_exchange x = {0};
        char target[64];
        x.conn_id = i < 3 ? c1.id : c2.id;
        x.version = i < 3 ? 11 : 20;
        x.h2_stream = i < 3 ? 0 : 2 * i - 5;
        x.t_req_start_us = 1764201600000000ull + i * 100000;
        x.t_req_end_us = x.t_req_start_us + 50;
        x.t_resp_start_us = x.t_req_start_us + 2000;
        x.t_resp_end_us = x.t_req_start_us + 2500;
        x.method = V(i == 0 ? "POST" : "GET");
        x.scheme = V("http");
        x.authority = V("127.0.0.1:8080");
        snprintf(target, sizeof(target), i == 0 ? "/login" : "/api/items?page=%u&q=a%%20b", i);
        x.target = V(target);
        x.req_headers = req_h;
        x.n_req_headers = 2;
        x.status = i == 4 ? 0 : 200;
        x.reason = V(i == 4 ? "" : "OK");
        x.resp_headers = resp_h;
        x.n_resp_headers = i == 4 ? 0 : 2;
        if (i == 2) {
            x.flags = RR_XF_DECODED;
            x.resp_wire_len = 7;
        } else if (i == 4) {
            x.flags = RR_XF_NO_RESPONSE | RR_XF_INCOMPLETE | RR_XF_GAP;
        } else {
            x.resp_wire_len = sizeof(token) - 1;
        }
        rc = rr_store_exchange_put(s, &x, i == 0 ? login : NULL, i == 0 ? sizeof(login) - 1 : 0,
                                   i == 4 ? NULL : token, i == 4 ? 0 : sizeof(token) - 1);
        if (rc)
            return die("exchange", rc);
    }
    if ((rc = rr_store_meta_put(s, "recorded_by", "rrload record", 13)) ||
        (rc = rr_store_meta_put(s, "source", "pcap:sample.pcap", 16)) ||
        (rc = rr_store_meta_put(s, "capture.packets", "42", 2)))
        return die("meta", rc);
    return rr_store_close(&s) ? 1 : 0;
}

/* Flips a byte inside the value of exchange 3, the way a bad disk or a bad copy would; or,
 * with newer set, makes exchange 2 a well-formed record of the next record version. */
static int damage(const char *path, int newer)
{
    MDB_env *env;
    MDB_txn *t;
    MDB_dbi dbi;
    MDB_val k, v;
    uint8_t key[8] = {0, 0, 0, 0, 0, 0, 0, newer ? 2 : 3};
    int rc = mdb_env_create(&env);
    if (!rc)
        rc = mdb_env_set_maxdbs(env, 8);
    if (!rc)
        rc = mdb_env_open(env, path, MDB_NOSUBDIR, 0600);
    if (!rc)
        rc = mdb_txn_begin(env, NULL, 0, &t);
    if (!rc)
        rc = mdb_dbi_open(t, "exchanges", 0, &dbi);
    k.mv_size = 8;
    k.mv_data = key;
    if (!rc)
        rc = mdb_get(t, dbi, &k, &v);
    if (rc) {
        fprintf(stderr, "store_fixture: %s\n", mdb_strerror(rc));
        return 1;
    }
    uint8_t *copy = malloc(v.mv_size);
    memcpy(copy, v.mv_data, v.mv_size);
    if (newer) {
        uint32_t c;
        copy[1] = RR_REC_VERSION + 1;
        c = (uint32_t)rr_hash64(copy, v.mv_size - 4, RR_REC_CHECK_SEED);
        for (int i = 0; i < 4; i++)
            copy[v.mv_size - 4 + (size_t)i] = (uint8_t)(c >> (24 - 8 * i));
    } else {
        copy[v.mv_size / 2] ^= 0x40;
    }
    v.mv_data = copy;
    rc = mdb_put(t, dbi, &k, &v, 0);
    if (!rc)
        rc = mdb_txn_commit(t);
    free(copy);
    mdb_env_close(env);
    return rc ? 1 : 0;
}

static int foreign(const char *path, int with_data)
{
    MDB_env *env;
    MDB_txn *t;
    MDB_dbi dbi;
    MDB_val k = {5, "hello"}, v = {5, "world"};
    int rc = mdb_env_create(&env);
    if (!rc)
        rc = mdb_env_open(env, path, MDB_NOSUBDIR, 0600);
    if (!rc)
        rc = mdb_txn_begin(env, NULL, 0, &t);
    if (!rc)
        rc = mdb_dbi_open(t, NULL, 0, &dbi);
    if (!rc && with_data)
        rc = mdb_put(t, dbi, &k, &v, 0);
    if (!rc)
        rc = mdb_txn_commit(t);
    mdb_env_close(env);
    return rc ? 1 : 0;
}

static int newer(const char *path)
{
    struct rr_store_opts o = {.path = path, .create = 1};
    struct rr_store *s = NULL;
    if (rr_store_open(&s, &o, NULL, 0) || rr_store_meta_put(s, "schema", "2", 1))
        return 1;
    return rr_store_close(&s) ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr,
                "usage: store_fixture sample|damaged|newrecord|foreign|emptylmdb|newer PATH\n");
        return 2;
    }
    const char *kind = argv[1], *path = argv[2];
    if (strcmp(kind, "sample") == 0)
        return sample(path);
    if (strcmp(kind, "damaged") == 0)
        return sample(path) || damage(path, 0);
    if (strcmp(kind, "newrecord") == 0)
        return sample(path) || damage(path, 1);
    if (strcmp(kind, "foreign") == 0)
        return foreign(path, 1);
    if (strcmp(kind, "emptylmdb") == 0)
        return foreign(path, 0);
    if (strcmp(kind, "newer") == 0)
        return newer(path);
    fprintf(stderr, "store_fixture: unknown kind '%s'\n", kind);
    return 2;
}
