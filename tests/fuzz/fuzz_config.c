/*
 * fuzz_config.c - the TUI's settings-file parser: the input as the file's
 * text (config_parse), and as a file on disk (config_load).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    Config c;
    char warn[200];
    config_defaults(&c);
    config_parse(&c, text, warn, sizeof warn);
    config_parse(&c, text, NULL, 0);
    free(text);

    static const char *const names[] = {"config"};
    char path[600];
    snprintf(path, sizeof path, "%s/config", fuzz_write_files(data, size, names, 1));
    RsErr err;
    config_load(&c, path, warn, sizeof warn, &err);
    return 0;
}
