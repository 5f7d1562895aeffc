/* codec.c -- placeholder */
