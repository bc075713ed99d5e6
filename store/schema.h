/* schema.h - the schema migrations (store/schema.c). */
#ifndef RS_SCHEMA_H
#define RS_SCHEMA_H

/* The newest schema version (equals STORE_SCHEMA_VERSION). */
int schema_latest(void);
/* SQL bringing a database from version `from` to from + 1;
 * 0 <= from < schema_latest(). */
const char *schema_migration(int from);

#endif
