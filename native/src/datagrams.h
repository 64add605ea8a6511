// The heartbeat socket of the addon (datagrams.cc).
#pragma once
#include <napi.h>

void InitDatagrams(Napi::Env env, Napi::Object exports);
