// Uses the installed SDK: connects with the environment's settings and prints
// who the server says we are; exits with the SDK's status code on error.
#include <iostream>

#include "budstikke/client.h"
#include "tlog/hash.h"

int main() {
  auto client = budstikke::Client::Connect(budstikke::ClientOptions::FromEnv());
  if (!client.ok()) {
    std::cerr << client.status() << std::endl;
    return 10 + static_cast<int>(client.status().code());
  }
  auto me = (*client)->WhoAmI();
  if (!me.ok()) {
    std::cerr << me.status() << std::endl;
    return 10 + static_cast<int>(me.status().code());
  }
  std::cout << "agency=" << me->actor().agency() << " user=" << me->actor().user()
            << " leaf=" << budstikke::tlog::HashToHex(budstikke::tlog::LeafHash("x")) << std::endl;
  return 0;
}
