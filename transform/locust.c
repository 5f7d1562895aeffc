/* locust.c -- A plan as a locustfile: what a Locust user would have written by hand.
 *
 * One HttpUser (or FastHttpUser) class per flow with the flow's weight, a SequentialTaskSet of
 * its steps, on_start/on_stop steps in the user's on_start/on_stop, pools as Python lists,
 * extraction with response.json()/headers/cookies/re, substitution with f-strings, checks
 * with catch_response and response.failure("..."). A failed step interrupts the iteration.
 * The plan's before/after steps run from the test_start/test_stop events. */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "rr/text.h"
#include "rr/transform.h"

/* A Python string literal of bytes that are text; non-UTF-8 and control bytes escaped. */
static void py_str(struct rr_buf *out, const char *s, size_t n, int fstring)
{
    rr_buf_adds(out, fstring ? "f\"" : "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (fstring && c == '$' && i + 2 < n && s[i + 1] == '$' && s[i + 2] == '{') {
            rr_buf_adds(out, "${{");
            i += 2;
        } else if (fstring && c == '$' && i + 1 < n && s[i + 1] == '{' &&
                   memchr(s + i + 2, '}', n - i - 2)) {
            const char *close = memchr(s + i + 2, '}', n - i - 2);
            const char *nm = s + i + 2;
            size_t nl = (size_t)(close - nm), k;
            for (k = 0; k < nl && (isalnum((unsigned char)nm[k]) || strchr("_-. ", nm[k])); k++)
                ;
            if (k == nl) {
                rr_buf_printf(out, "{v['%.*s']}", (int)nl, nm);
            } else {
                /* no quote or backslash may appear inside an f-string expression */
                rr_buf_adds(out, "{v[bytes.fromhex('");
                for (k = 0; k < nl; k++)
                    rr_buf_printf(out, "%02x", (unsigned char)nm[k]);
                rr_buf_adds(out, "').decode()]}");
            }
            i = (size_t)(close - s);
        } else if (fstring && (c == '{' || c == '}')) {
            rr_buf_addc(out, c);
            rr_buf_addc(out, c);
        } else if (!rr_escape_byte(out, c, '"')) {
            rr_buf_addc(out, c);
        }
    }
    rr_buf_addc(out, '"');
}

static void py_strz(struct rr_buf *out, const char *s, int fstring)
{
    py_str(out, s ? s : "", s ? strlen(s) : 0, fstring);
}

static const char preamble[] =
    "# A locustfile written by 'rrload export' from a recorded plan.\n"
    "# Run: locust -f THIS_FILE --headless -u 10 -r 10 -t 1m [--host http://HOST:PORT]\n"
    "import csv\n"
    "import itertools\n"
    "import queue\n"
    "import random\n"
    "import re\n"
    "\n"
    "import gevent\n"
    "from locust import %s, SequentialTaskSet, task, between, constant, constant_pacing, events\n"
    "from locust.clients import HttpSession\n"
    "from locust.exception import StopUser\n"
    "from locust.runners import WorkerRunner\n"
    "\n"
    "\n"
    "def _csv_column(path, column):\n"
    "    with open(path, newline=\"\") as f:\n"
    "        return [row[column] for row in csv.reader(f) if len(row) > column]\n"
    "\n"
    "\n"
    "class _Pool:\n"
    "    \"\"\"Values drawn at random, in turn (shared by all users), or each once (unique: the\n"
    "    whole test stops when none is left).\"\"\"\n"
    "\n"
    "    def __init__(self, name, mode, values):\n"
    "        self.name, self.mode, self.values = name, mode, values\n"
    "        self.cycle = itertools.cycle(values)\n"
    "        self.queue = queue.Queue()\n"
    "        for v in values:\n"
    "            self.queue.put(v)\n"
    "\n"
    "    def draw(self, user):\n"
    "        if self.mode == \"random\":\n"
    "            return random.choice(self.values)\n"
    "        if self.mode == \"round-robin\":\n"
    "            return next(self.cycle)\n"
    "        try:\n"
    "            return self.queue.get_nowait()\n"
    "        except queue.Empty:\n"
    "            print(f\"pool {self.name} has no value left: stopping the test\")\n"
    "            # quit from another greenlet: this one is a user the runner kills\n"
    "            gevent.spawn(user.environment.runner.quit)\n"
    "            raise StopUser()\n"
    "\n"
    "\n"
    "def _json_path(data, path):\n"
    "    \"\"\"$.a.b[0][\\\"c d\\\"] over parsed JSON; None when absent.\"\"\"\n"
    "    for part in re.findall(r'\\.([^.\\[]+)|\\[(\\d+)\\]|\\[\"((?:[^\"\\\\]|\\\\.)*)\"\\]', "
    "path.lstrip(\"$\")):\n"
    "        key, index, quoted = part\n"
    "        try:\n"
    "            if index:\n"
    "                data = data[int(index)]\n"
    "            else:\n"
    "                data = data[key or quoted]\n"
    "        except (KeyError, IndexError, TypeError):\n"
    "            return None\n"
    "    return data\n"
    "\n"
    "\n"
    "def _text(value):\n"
    "    if value is True:\n"
    "        return \"true\"\n"
    "    if value is False:\n"
    "        return \"false\"\n"
    "    if value is None:\n"
    "        return \"null\"\n"
    "    return str(value)\n"
    "\n"
    "\n"
    "def _json(response):\n"
    "    try:\n"
    "        return response.json()\n"
    "    except Exception:\n"
    "        return None\n"
    "\n"
    "\n"
    "class _Once:\n"
    "    \"\"\"The user of the plan's before/after steps: run once per test, on the master (or\n"
    "    the only process), before the first user starts and after the last one stopped.\"\"\"\n"
    "\n"
    "    def __init__(self, environment, host):\n"
    "        self.environment, self.v, self.think = environment, {}, 0\n"
    "        self.client = HttpSession(base_url=environment.host or host,\n"
    "                                  request_event=environment.events.request, user=None)\n"
    "\n"
    "\n"
    "def _think(q):\n"
    "    \"\"\"A wait drawn from recorded quantiles (equally spaced in probability, from the\n"
    "    shortest wait to the longest): linear between the two around a uniform draw.\"\"\"\n"
    "    x = random.random() * (len(q) - 1)\n"
    "    i = int(x)\n"
    "    if i >= len(q) - 1:\n"
    "        return q[-1]\n"
    "    return q[i] + (q[i + 1] - q[i]) * (x - i)\n"
    "\n"
    "\n";

static void emit_step(struct rr_buf *o, const struct rr_plan_step *s, size_t id, double scale,
                      int recorded)
{
    static const char *const kinds[] = {"json", "header", "cookie", "regex"};
    rr_buf_printf(o, "def _step%zu(user, v):\n", id);
    rr_buf_adds(o, "    headers = {");
    for (size_t i = 0; i < s->n_headers; i++) {
        if (i)
            rr_buf_adds(o, ", ");
        py_strz(o, s->headers[i].name, 0);
        rr_buf_adds(o, ": ");
        py_strz(o, s->headers[i].value, 1);
    }
    rr_buf_adds(o, "}\n");
    if (s->body_len) {
        rr_buf_adds(o, "    body = ");
        if (rr_utf8_is_valid(s->body, s->body_len)) {
            py_str(o, (const char *)s->body, s->body_len, 1);
            rr_buf_adds(o, ".encode()\n");
        } else {
            rr_buf_adds(o, "b\"");
            for (size_t i = 0; i < s->body_len; i++)
                rr_buf_printf(o, "\\x%02x", s->body[i]);
            rr_buf_adds(o, "\"\n");
        }
    } else {
        rr_buf_adds(o, "    body = None\n");
    }
    rr_buf_adds(o, "    ok = True\n");
    rr_buf_adds(o, "    with user.client.request(");
    py_strz(o, s->method, 0);
    rr_buf_adds(o, ", ");
    py_strz(o, s->target, 1);
    rr_buf_adds(o, ", name=");
    py_strz(o, s->name && *s->name ? s->name : s->target, 0);
    rr_buf_adds(o, ", headers=headers, data=body, catch_response=True) as response:\n");
    rr_buf_adds(o, "        failure = None\n");
    for (size_t i = 0; i < s->n_checks; i++) {
        const struct rr_plan_check *c = &s->checks[i];
        rr_buf_adds(o, "        if failure is None and ");
        switch (c->kind) {
        case RR_CHECK_STATUS:
            rr_buf_printf(o, "not (%d <= response.status_code <= %d):\n", c->status_lo,
                          c->status_hi);
            break;
        case RR_CHECK_JSON_EQ:
            rr_buf_adds(o, "_text(_json_path(_json(response), ");
            py_strz(o, c->expr, 0);
            rr_buf_adds(o, ")) != ");
            py_strz(o, c->value, 0);
            rr_buf_adds(o, ":\n");
            break;
        case RR_CHECK_BODY_CONTAINS:
            py_strz(o, c->value, 0);
            rr_buf_adds(o, " not in (response.text or \"\"):\n");
            break;
        case RR_CHECK_MAX_MS:
            rr_buf_printf(o, "response.request_meta[\"response_time\"] > %g:\n", c->max_ms);
            break;
        }
        rr_buf_adds(o, "            failure = ");
        if (c->message) {
            py_strz(o, c->message, 0);
        } else {
            switch (c->kind) {
            case RR_CHECK_STATUS:
                rr_buf_printf(o, "f\"status {response.status_code}, expected %d-%d\"", c->status_lo,
                              c->status_hi);
                break;
            case RR_CHECK_JSON_EQ: {
                struct rr_buf m;
                rr_buf_init(&m);
                rr_buf_printf(&m, "JSON %s is not %s", c->expr, c->value);
                py_strz(o, rr_buf_cstr(&m), 0);
                rr_buf_fini(&m);
                break;
            }
            case RR_CHECK_BODY_CONTAINS:
                rr_buf_adds(o, "\"the body lacks the expected text\"");
                break;
            case RR_CHECK_MAX_MS:
                rr_buf_printf(o, "\"slower than %g ms\"", c->max_ms);
                break;
            }
        }
        rr_buf_adds(o, "\n");
    }
    for (size_t i = 0; i < s->n_extracts; i++) {
        const struct rr_plan_extract *x = &s->extracts[i];
        rr_buf_adds(o, "        if failure is None:\n");
        rr_buf_adds(o, "            value = ");
        switch (x->kind) {
        case RR_EXTRACT_JSON:
            rr_buf_adds(o, "_json_path(_json(response), ");
            py_strz(o, x->expr, 0);
            rr_buf_adds(o, ")\n");
            rr_buf_adds(o, "            value = None if value is None else _text(value)\n");
            break;
        case RR_EXTRACT_HEADER:
            rr_buf_adds(o, "response.headers.get(");
            py_strz(o, x->expr, 0);
            rr_buf_adds(o, ")\n");
            break;
        case RR_EXTRACT_COOKIE:
            rr_buf_adds(o, "response.cookies.get(");
            py_strz(o, x->expr, 0);
            rr_buf_adds(o, ")\n");
            break;
        case RR_EXTRACT_REGEX:
            rr_buf_adds(o, "re.search(");
            py_strz(o, x->expr, 0);
            rr_buf_adds(o, ", response.text or \"\")\n");
            rr_buf_adds(o, "            value = value and (value.group(1) if value.re.groups else "
                           "value.group(0))\n");
            break;
        }
        rr_buf_adds(o, "            if value is None:\n");
        rr_buf_adds(o, "                failure = ");
        {
            struct rr_buf m;
            rr_buf_init(&m);
            rr_buf_printf(&m, "no value for %s (%s %s)", x->var, kinds[x->kind], x->expr);
            py_strz(o, rr_buf_cstr(&m), 0);
            rr_buf_fini(&m);
        }
        rr_buf_adds(o, "\n");
        rr_buf_adds(o, "            else:\n");
        rr_buf_adds(o, "                v[");
        py_strz(o, x->var, 0);
        rr_buf_adds(o, "] = value\n");
    }
    rr_buf_adds(o, "        if failure is None:\n");
    rr_buf_adds(o, "            response.success()\n");
    rr_buf_adds(o, "        else:\n");
    rr_buf_adds(o, "            response.failure(failure)\n");
    rr_buf_adds(o, "            ok = False\n");
    if (recorded && s->n_think_q >= 2) {
        /* the quantiles as written in the plan (exact microseconds), the scale apart */
        rr_buf_adds(o, "    user.think = _think((");
        for (size_t i = 0; i < s->n_think_q; i++)
            rr_buf_printf(o, "%s%llu.%06llu", i ? ", " : "",
                          (unsigned long long)(s->think_q_us[i] / 1000000),
                          (unsigned long long)(s->think_q_us[i] % 1000000));
        rr_buf_adds(o, "))");
        if (scale != 1.0)
            rr_buf_printf(o, " * %.17g", scale);
        rr_buf_addc(o, '\n');
    } else if (recorded) {
        rr_buf_printf(o, "    user.think = %g\n", (double)s->think_us / 1e6 * scale);
    }
    rr_buf_adds(o, "    return ok\n\n\n");
}

void rr_transform_locustfile(const struct rr_plan *p, int fast, struct rr_buf *o)
{
    const char *base = fast ? "FastHttpUser" : "HttpUser";
    int recorded = p->wait.kind == RR_WAIT_RECORDED;
    double scale = p->wait.scale > 0 ? p->wait.scale : 1.0;
    size_t id = 0;

    rr_buf_printf(o, preamble, base);
    /* pools */
    rr_buf_adds(o, "POOLS = {\n");
    static const char *const modes[] = {"random", "round-robin", "unique"};
    for (size_t i = 0; i < p->n_pools; i++) {
        const struct rr_plan_pool *pl = &p->pools[i];
        rr_buf_adds(o, "    ");
        py_strz(o, pl->name, 0);
        rr_buf_adds(o, ": _Pool(");
        py_strz(o, pl->name, 0);
        rr_buf_printf(o, ", \"%s\", ", modes[pl->mode]);
        if (pl->csv_path) {
            rr_buf_adds(o, "_csv_column(");
            py_strz(o, pl->csv_path, 0);
            rr_buf_printf(o, ", %u)", pl->csv_column);
        } else {
            rr_buf_adds(o, "[");
            for (size_t v = 0; v < pl->n_values; v++) {
                if (v)
                    rr_buf_adds(o, ", ");
                py_strz(o, pl->values[v], 0);
            }
            rr_buf_adds(o, "]");
        }
        rr_buf_adds(o, "),\n");
    }
    rr_buf_adds(o, "}\n\n\n");

    /* test-level steps: Locust's test_start/test_stop events, skipped on workers so they run
     * once per test; a failed step ends its list as a failed on_start step does */
    const struct rr_plan_step *once[2] = {p->before, p->after};
    size_t n_once[2] = {p->n_before, p->n_after};
    static const char *const once_ev[2] = {"test_start", "test_stop"};
    for (int l = 0; l < 2; l++) {
        if (!n_once[l])
            continue;
        size_t first = id;
        for (size_t k = 0; k < n_once[l]; k++)
            emit_step(o, &once[l][k], id++, scale, 0);
        rr_buf_printf(o, "@events.%s.add_listener\ndef _%s(environment, **kwargs):\n",
                      once_ev[l], l ? "after" : "before");
        rr_buf_adds(o, "    if isinstance(environment.runner, WorkerRunner):\n        return\n");
        rr_buf_adds(o, "    user = _Once(environment, ");
        if (p->host)
            py_strz(o, p->host, 0);
        else
            rr_buf_adds(o, "None");
        rr_buf_adds(o, ")\n");
        for (size_t k = 0; k < n_once[l]; k++)
            rr_buf_printf(o, "    if not _step%zu(user, user.v):\n        return\n", first + k);
        rr_buf_adds(o, "\n\n");
    }

    for (size_t f = 0; f < p->n_flows; f++) {
        const struct rr_plan_flow *fl = &p->flows[f];
        size_t first = id;
        const struct rr_plan_step *lists[3] = {fl->on_start, fl->steps, fl->on_stop};
        size_t ns[3] = {fl->n_on_start, fl->n_steps, fl->n_on_stop};
        for (int l = 0; l < 3; l++)
            for (size_t k = 0; k < ns[l]; k++)
                emit_step(o, &lists[l][k], id++, scale, recorded);

        /* pools this flow uses, by scope */
        struct rr_buf user_pools, iter_pools;
        rr_buf_init(&user_pools);
        rr_buf_init(&iter_pools);
        for (size_t i = 0; i < p->n_pools; i++) {
            char needle[300];
            snprintf(needle, sizeof(needle), "${%s}", p->pools[i].name);
            int used = 0;
            for (int l = 0; l < 3 && !used; l++)
                for (size_t k = 0; k < ns[l] && !used; k++) {
                    const struct rr_plan_step *s = &lists[l][k];
                    used = strstr(s->target, needle) ||
                           (s->body && memmem(s->body, s->body_len, needle, strlen(needle)));
                    for (size_t h = 0; h < s->n_headers && !used; h++)
                        used = strstr(s->headers[h].value, needle) != NULL;
                }
            if (!used)
                continue;
            int per_user = p->pools[i].scope == RR_POOL_PER_USER;
            struct rr_buf *b = per_user ? &user_pools : &iter_pools;
            const char *who = per_user ? "self" : "self.user";
            rr_buf_printf(b, "        %s.v[", who);
            py_strz(b, p->pools[i].name, 0);
            rr_buf_adds(b, "] = POOLS[");
            py_strz(b, p->pools[i].name, 0);
            rr_buf_printf(b, "].draw(%s)\n", who);
        }

        rr_buf_printf(o, "class F%zuTasks(SequentialTaskSet):\n", f + 1);
        rr_buf_adds(o, "    flow = ");
        py_strz(o, fl->name, 0);
        rr_buf_adds(o, "\n\n");
        if (recorded)
            rr_buf_adds(o, "    def wait_time(self):\n        return self.user.think\n\n");
        for (size_t k = 0; k < fl->n_steps; k++) {
            size_t sid = first + fl->n_on_start + k;
            rr_buf_printf(o, "    @task\n    def step%zu(self):\n", k + 1);
            if (k == 0 && iter_pools.len) {
                rr_buf_adds(o, "        # a new iteration: fresh pool values\n");
                rr_buf_add(o, iter_pools.p, iter_pools.len);
            }
            rr_buf_printf(o, "        if not _step%zu(self.user, self.user.v):\n", sid);
            rr_buf_adds(o, "            self.interrupt()\n\n");
        }
        if (!fl->n_steps)
            rr_buf_adds(o, "    @task\n    def idle(self):\n        pass\n\n");
        rr_buf_adds(o, "\n");

        rr_buf_printf(o, "class F%zu(%s):\n", f + 1, base);
        rr_buf_adds(o, "    flow = ");
        py_strz(o, fl->name, 0);
        rr_buf_adds(o, "\n\n");
        rr_buf_printf(o, "    weight = %u\n", fl->weight ? fl->weight : 1);
        if (p->host) {
            rr_buf_adds(o, "    host = ");
            py_strz(o, p->host, 0);
            rr_buf_adds(o, "\n");
        }
        rr_buf_printf(o, "    tasks = [F%zuTasks]\n", f + 1);
        switch (p->wait.kind) {
        case RR_WAIT_RECORDED:
            rr_buf_adds(o, "    wait_time = constant(0)  # the task set waits\n");
            break;
        case RR_WAIT_NONE:
            rr_buf_adds(o, "    wait_time = constant(0)\n");
            break;
        case RR_WAIT_CONSTANT:
            rr_buf_printf(o, "    wait_time = constant(%g)\n", p->wait.a);
            break;
        case RR_WAIT_BETWEEN:
            rr_buf_printf(o, "    wait_time = between(%g, %g)\n", p->wait.a, p->wait.b);
            break;
        case RR_WAIT_PACING:
            rr_buf_printf(o, "    wait_time = constant_pacing(%g)\n", p->wait.a);
            break;
        }
        rr_buf_adds(o, "\n    def on_start(self):\n");
        rr_buf_adds(o, "        self.v = {}\n        self.think = 0\n");
        rr_buf_add(o, user_pools.p, user_pools.len);
        for (size_t k = 0; k < fl->n_on_start; k++) {
            rr_buf_printf(o, "        if not _step%zu(self, self.v):\n", first + k);
            rr_buf_adds(o, "            return\n");
        }
        rr_buf_adds(o, "\n");
        if (fl->n_on_stop) {
            rr_buf_adds(o, "    def on_stop(self):\n");
            for (size_t k = 0; k < fl->n_on_stop; k++) {
                rr_buf_printf(o, "        if not _step%zu(self, self.v):\n",
                              first + fl->n_on_start + fl->n_steps + k);
                rr_buf_adds(o, "            return\n");
            }
            rr_buf_adds(o, "\n");
        }
        rr_buf_adds(o, "\n");
        rr_buf_fini(&user_pools);
        rr_buf_fini(&iter_pools);
    }
}
