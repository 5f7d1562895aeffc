/* stats.c -- placeholder */
