#include "orchestrator/cli.h"

int main(int argc, char** argv) { return pg::orchestrator::run_cli(argc, argv); }
