"""One HTTP simulator per PMS, for the demo and the contract tests (real sockets)."""

SIMULATORS = {
    "dentalink": "vendors.simulators.dentalink.DentalinkSimulator",
    "flextell": "vendors.simulators.flextell.FlextellSimulator",
    "nexhealth": "vendors.simulators.nexhealth.NexHealthSimulator",
    "meddbase": "vendors.simulators.meddbase.MeddbaseSimulator",
    "treatsvet": "vendors.simulators.treatsvet.TreatsVetSimulator",
}
