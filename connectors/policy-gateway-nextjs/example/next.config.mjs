// The example app's Next.js configuration: nothing beyond the defaults (the route needs none).
/** @type {import('next').NextConfig} */
export default {};
