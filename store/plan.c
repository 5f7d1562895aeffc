/* plan.c -- placeholder */
