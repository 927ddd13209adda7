// The one line a failed container setup ends in: which step failed, and why.
import { CboxError, describeErrno, errnoName, ExitCode } from "../errors.ts";
import type { OpFailure } from "../sys/process.ts";
import type { Op } from "../sys/ops.ts";
import { describeOp } from "./plan.ts";

const ECHILD = 10;
const ETIMEDOUT = 110;

/** The one-line error for the op that failed; exec failures get docker's 127 and 126. */
export function startFailure(plan: Op[], failure: OpFailure, root: string): CboxError {
  const op = plan[failure.index];
  if (!op) return new CboxError(`container setup failed at step ${failure.index}: ${describeErrno(failure.errno)}`);
  if (op.op === "hook") {
    const why = failure.errno === ECHILD ? "it failed (a status other than 0, or killed)" : failure.errno === ETIMEDOUT ? "it did not end within its timeout" : describeErrno(failure.errno);
    return new CboxError(`hook ${op.strs![0]}: ${why}`);
  }
  if (op.op === "exec" || op.op === "findExec") {
    const cmd = op.strs![1]!;
    const name = errnoName(failure.errno);
    if (name === "ENOENT") {
      const where = cmd.includes("/") ? "no such file or directory" : "executable file not found in $PATH";
      return new CboxError(`exec ${JSON.stringify(cmd)}: ${where}`, ExitCode.notFound);
    }
    return new CboxError(`exec ${JSON.stringify(cmd)}: ${describeErrno(failure.errno)}`, ExitCode.cannotExecute);
  }
  return new CboxError(`${describeOp(op, root)}: ${describeErrno(failure.errno)}`);
}
