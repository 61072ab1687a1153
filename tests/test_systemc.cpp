// The SystemC kernel links and runs from a C++20 program with its own main(): a thread that
// waits 1000 ns once (loosely timed, no clock) ends the simulation at exactly 1000 ns.
#include <gtest/gtest.h>

#include <systemc>

// libsystemc references sc_main; qaccel never enters through it.
int sc_main(int, char**) {
  return 0;
}

namespace {

SC_MODULE(Waiter) {
  int woke = 0;
  SC_CTOR(Waiter) {
    SC_THREAD(run);
  }
  void run() {
    wait(1000, sc_core::SC_NS);
    ++woke;
  }
};

}  // namespace

TEST(SystemC, KernelAdvancesTimeOnce) {
  sc_core::sc_report_handler::set_actions("/IEEE_Std_1666/deprecated", sc_core::SC_DO_NOTHING);
  Waiter w("w");
  sc_core::sc_start();
  EXPECT_EQ(w.woke, 1);
  EXPECT_EQ(sc_core::sc_time_stamp(), sc_core::sc_time(1000, sc_core::SC_NS));
}
