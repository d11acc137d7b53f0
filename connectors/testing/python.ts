// Finds the Python that can run the Python connectors' tests (Debian's packages live in /usr/bin/python3's
// dist-packages, which a pyenv or venv python3 first on PATH does not see) or says exactly what to install.
import { spawnSync } from 'node:child_process';

/** The Debian packages the Python connector tests use, and the command that installs them. */
export const PYTHON_PACKAGES = ['python3-fastapi', 'python3-httpx', 'python3-uvicorn', 'python3-pytest'] as const;
export const INSTALL_COMMAND = `apt-get install -y ${PYTHON_PACKAGES.join(' ')}`;
const MODULES = 'fastapi, httpx, uvicorn, anyio, pytest';

/**
 * The first of `$PYTHON`, `python3` (PATH) and `/usr/bin/python3` that imports fastapi, httpx, uvicorn, anyio and
 * pytest. Throws at once, naming the apt-get command, when none does.
 */
export function findPython(candidates: readonly (string | undefined)[] = [process.env.PYTHON, 'python3', '/usr/bin/python3']): string {
  const tried: string[] = [];
  for (const candidate of candidates) {
    if (!candidate || tried.includes(candidate)) continue;
    tried.push(candidate);
    const r = spawnSync(candidate, ['-c', `import ${MODULES}`], { encoding: 'utf8', timeout: 30_000 });
    if (r.status === 0) return candidate;
  }
  throw new Error(`the Python connector tests need ${MODULES} in a Python 3 (tried ${tried.join(', ')}); install Debian's packages: ${INSTALL_COMMAND}`);
}
